"""The run report in a real browser: headless Chromium (the Debian package) driven by
Playwright opens the page of a scripted SWE-Search run, clicks tree nodes, and sees each
node's state and the model calls that proposed it, the diff and the test results, with no
error in the console."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from test_run_report import solve_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install -e '.[dev]')",
    ),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/setup.sh)"
    ),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    from playwright.sync_api import Error, sync_playwright

    run = solve_run(tmp_path_factory.mktemp("browser") / "run")
    with sync_playwright() as p:
        try:  # root in CI: Chromium's own sandbox needs user namespaces it may not have
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as exc:
            pytest.skip(f"chromium cannot start here: {str(exc).splitlines()[0]}")
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((run / "report.html").as_uri())
        yield page, errors
        browser.close()


def test_clicking_a_node_shows_its_state_and_the_calls_that_made_it(
    page: tuple[Any, list[str]],
) -> None:
    tab, errors = page
    panel = tab.locator("#panel-0")
    assert "Click a node" in panel.inner_text()
    edit = tab.locator("button.node.chosen", has_text="str_replace")
    edit.click()
    text = panel.inner_text()
    assert "ACTION" in text and "str_replace(path='src/cachetools/__init__.py'" in text
    assert "OBSERVATION" in text and "replaced" in text
    # The model call that proposed it: its prompt (the system message) and its answer.
    assert "model calls that proposed it" in text
    assert "You fix a bug in a Python repository" in text
    assert "ACTION: str_replace" in text
    assert "selected" in (edit.get_attribute("class") or "")
    # Another node replaces the panel's content.
    tab.locator("button.node", has_text="find_class").first.click()
    text = panel.inner_text()
    assert "find_class(name='LRUCache')" in text and "str_replace(path=" not in text
    assert errors == []


def test_the_diff_and_the_tests_are_on_the_page(page: tuple[Any, list[str]]) -> None:
    tab, errors = page
    diff = tab.locator("pre.diff")
    assert diff.is_visible()
    assert "+        if key in self:  # __missing__ may not store item" in diff.inner_text()
    color = diff.locator("span.add").first.evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(23, 96, 44)"  # additions in green
    assert tab.locator("table.tests").inner_text().count("FAIL_TO_PASS") == 1
    # A folded model call opens on a click.
    call = tab.locator("details.call").first
    assert call.get_attribute("open") is None
    call.locator("summary").first.click()
    assert call.get_attribute("open") is not None
    assert errors == []
