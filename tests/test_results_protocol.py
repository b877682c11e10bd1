"""Every results page that reports a gain says, at its top, which seeds (or instances)
tuned and which evaluated: the evaluation protocol of benchmarks/protocol.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import protocol

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"

SPEED_ONLY = {"llm_throughput.md", "llm_decode_profile.md", "ray.md"}
"""Pages that time the same work two ways (a speed ratio), choosing no configuration."""

PARAGRAPH = {
    "hanabi_2p.md": protocol.HANABI.describe(),
    "hanabi_mds.md": protocol.HANABI.describe(),
    "mcts_speed.md": protocol.MCTS.describe(),
    "planning_smollm2.md": protocol.PLANNING,
    "stories_smollm2.md": protocol.STORIES,
    "mmd_kuhn_poker.md": protocol.MMD_POKER,
    "mmd_leduc_poker.md": protocol.MMD_POKER,
    "loop_countdown.md": protocol.LOOP,
    "werewolf.md": protocol.WEREWOLF,
    "werewolf_lspo_react.md": protocol.WEREWOLF,
    "werewolf_lspo.md": protocol.LSPO,
    "swe_search_oracle.md": protocol.SWE_SEARCH,
    "swe_search_budget_binary.md": protocol.SWE_SEARCH,
    "swe_search_budget_graded.md": protocol.SWE_SEARCH,
}


@pytest.mark.parametrize("page", sorted(p.name for p in RESULTS.glob("*.md")))
def test_every_results_page_states_its_protocol(page: str) -> None:
    if page in SPEED_ONLY:
        pytest.skip(f"{page} is a speed measurement: nothing is tuned")
    text = (RESULTS / page).read_text()
    # The protocol comes before the first table, where a reader starts.
    head = text.split("\n|", 1)[0]
    assert "Protocol" in head, f"{page}: no protocol paragraph before its first table"
    if page in PARAGRAPH:
        assert PARAGRAPH[page] in text, f"{page}: not the protocol its generator writes"


def test_generators_write_the_protocol() -> None:
    from benchmarks.mmd_poker import markdown as mmd_markdown
    from benchmarks.swe_search_budget import budget_table

    mmd = mmd_markdown(
        {
            "game": "kuhn_poker", "iters": 1, "config": {}, "dilated": [],
            "curves": {"cfr+ (avg)": [(1, 0.5)]}, "seconds": {"cfr+ (avg)": 0.1},
        }
    )  # fmt: skip
    assert protocol.MMD_POKER in mmd
    budget = budget_table(
        {
            "judge": "binary",
            "instances": 1,
            "seeds": [0],
            "q": 0.1,
            "budgets": [12],
            "rows": [],
            "diffs": [],
        }
    )
    assert protocol.SWE_SEARCH in budget
