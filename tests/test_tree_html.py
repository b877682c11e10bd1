"""The HTML format of search/export.py: one view for live trees (`Node`) and exported ones
(nested dicts), with the caller's label, note and details; and the two graphs' pages
(SWE-Search's trees/ID.html, the story's tree.html) drawn with it."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from search_toys import TreeProblem, ZeroEvaluator

from search import MCTS, Budget, MCTSConfig, Node, tree_to_dict, tree_to_html, trees_to_html

# P0 picks a or b; b ends at (0.5, -0.5); after a, P1 picks x -> (1, -1) or y -> (-1, 1).
TINY = TreeProblem(
    {
        "root": (0, {"a": "A", "b": "B"}),
        "A": (1, {"x": "AX", "y": "AY"}),
        "B": (0.5, -0.5),
        "AX": (1.0, -1.0),
        "AY": (-1.0, 1.0),
    }
)


def tiny_root() -> Node:
    config = MCTSConfig(budget=Budget(simulations=8), c=1.0, shuffle=False)
    return MCTS(TINY, ZeroEvaluator(), config).search("root").root


class Page(HTMLParser):
    """The page's summaries (label and note), <pre> blocks and headings, as text; every
    element closes in order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.summaries: list[str] = []
        self.pres: list[str] = []
        self.headings: list[str] = []
        self.open: list[str] = []
        self._into: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            return  # a void element: no end tag
        self.open.append(tag)
        into = {"summary": self.summaries, "pre": self.pres, "h3": self.headings}.get(tag)
        if into is not None:
            into.append("")
            self._into = into

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()
        if tag in ("summary", "pre", "h3"):
            self._into = None

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data


def test_a_live_tree_shows_actions_visits_and_the_movers_value_most_visited_first() -> None:
    page = Page(tree_to_html(tiny_root()))
    # The golden UCT tree of tests/test_mcts_core.py; Q is the mean of the player who moved
    # into the node: P0 for a and b, P1 for x (-1 for P1) and y (+1).
    assert page.summaries == [
        "root N=8", "b N=4 Q=+0.500", "a N=3 Q=+0.000", "x N=1 Q=-1.000", "y N=1 Q=+1.000",
    ]  # fmt: skip
    assert page.open == [] and page.pres == [] and page.headings == []


def test_labels_notes_and_details_come_from_the_caller_and_are_escaped() -> None:
    def label(parent: Node | None, node: Node) -> str:
        return "<start>" if parent is None else f"move {node.action} & more"

    def details(parent: Node | None, node: Node) -> list[str]:
        return [f"visits: {node.visits}", "</pre><script>x</script>"]

    text = tree_to_html(tiny_root(), label, details, note=lambda p, n: "", max_depth=1)
    page = Page(text)
    assert page.summaries == ["<start>", "move b & more", "move a & more"]  # depth 1 only
    assert page.pres[:2] == ["visits: 8", "</pre><script>x</script>"]
    assert "<script>" not in text and "&lt;start&gt;" in text and "&amp; more" in text


def test_an_exported_tree_draws_like_the_live_one_and_several_share_a_page() -> None:
    root = tiny_root()
    exported: dict[str, Any] = tree_to_dict(root)
    page = Page(tree_to_html(exported, title="tiny"))
    assert [s.split()[0] for s in page.summaries] == ["root", "b", "a", "x", "y"]
    assert page.summaries[1] == "b N=4 V=+0.500,-0.500"
    both = Page(trees_to_html([("move 1", exported), ("move 2", exported["children"][1])]))
    assert both.headings == ["move 1", "move 2"]
    assert [s.split()[0] for s in both.summaries] == ["root", "b", "a", "x", "y", "a", "x", "y"]


def test_the_swe_search_page_shows_each_nodes_judgement_and_observation() -> None:
    from agents.graphs.swe_search import tree_html

    tree = {
        "action": "root", "thought": "", "visits": 2, "value": 0.1, "sid": 0, "status": None,
        "children": [
            {
                "action": "run_tests()", "thought": "t", "visits": 1, "value": -0.25, "sid": 1,
                "status": "finished", "observation": "1 failed <AssertionError>",
                "judge": {"value": -50, "explanation": "tests fail", "feedback": "fix a < b"},
            },
        ],
    }  # fmt: skip
    text = tree_html(tree)
    page = Page(text)
    assert text.startswith("<!doctype html>") and "<details" in text
    assert page.summaries == ["root N=2 Q=+0.10", "run_tests() N=1 Q=-0.25 finished"]
    assert page.pres == ["judge -50: tests fail\nfeedback: fix a < b", "1 failed <AssertionError>"]


def test_the_story_page_has_one_tree_per_committed_step() -> None:
    from agents.graphs.story import tree_html

    step = {"action": "root", "visits": 2, "values": [0.3], "children": [
        {"action": "The fox's lantern went out.", "visits": 2, "values": [0.3]},
    ]}  # fmt: skip
    text = tree_html([step, step], title="a fox")
    page = Page(text)
    assert text.startswith("<!doctype html>") and "The fox's lantern went out." in text
    assert page.headings == ["step 1", "step 2"]
    assert page.summaries[1] == "The fox's lantern went out. N=2 V=+0.300"
