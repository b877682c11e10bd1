"""`agents eval swe-bench --strict` end to end: a patch that makes the tests pass by changing
how they run is tampered, not resolved. Without --strict the official harness's verdict
stands (it grades such a patch resolved). What counts as tampering, case by case:
tests/faults/test_tamper.py."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, load_dataset

FORCE_PASS = """\
diff --git a/conftest.py b/conftest.py
new file mode 100644
--- /dev/null
+++ b/conftest.py
@@ -0,0 +1,8 @@
+import pytest
+
+
+@pytest.hookimpl(hookwrapper=True)
+def pytest_runtest_makereport(item, call):
+    outcome = yield
+    report = outcome.get_result()
+    report.outcome = "passed"
"""


def test_strict_grades_a_forced_pass_conftest_as_tampered(tmp_path: Path) -> None:
    inst = load_dataset("swe-mini", ["tkem__cachetools-1"])
    preds = {"tkem__cachetools-1": {
        "instance_id": "tkem__cachetools-1", "model_name_or_path": "cheat",
        "model_patch": FORCE_PASS,
    }}  # fmt: skip
    paths = RunPaths(tmp_path, "r", "cheat")
    official = evaluate(inst, preds, paths, RunConfig(sandbox="local"))
    # The inherited hole: the official verdict is "resolved".
    assert official["resolved_ids"] == ["tkem__cachetools-1"] and official["tampered_ids"] == []
    strict = evaluate(inst, preds, paths, RunConfig(sandbox="local", strict=True))
    assert strict["resolved_ids"] == [] and strict["error_ids"] == ["tkem__cachetools-1"]
    assert strict["tampered_ids"] == ["tkem__cachetools-1"]
    assert strict["error_reasons"]["tkem__cachetools-1"].startswith("tampered: conftest.py")
    rows = [json.loads(r) for r in paths.results.read_text().splitlines()]
    assert [r["strict"] for r in rows] == [False, True]  # --strict regraded, not skipped
    # The gold patch is clean under --strict too.
    gold = {"tkem__cachetools-1": {**preds["tkem__cachetools-1"], "model_patch": inst[0]["patch"]}}
    clean = evaluate(inst, gold, RunPaths(tmp_path, "g", "cheat"), RunConfig("local", strict=True))
    assert clean["resolved_ids"] == ["tkem__cachetools-1"]
