"""COS(M+O)S: curiosity values, sibling pairs, and the story search end to end with a
deterministic fake model (log-probs included) and with a tiny local model."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from search_toys import TreeProblem, ZeroEvaluator

from agents.graphs.story import (
    StoryAgent,
    StoryConfig,
    StoryPolicy,
    StoryState,
    pairs_from_trees,
    write_story,
)
from agents.llm import BaseLLM, Completion, Request, TokenLogprob, Usage
from search import MCTS, Budget, MCTSConfig
from search.curiosity import CuriosityWeights, StepScore, inverted_u, step_value, surprisal
from search.preferences import sibling_pairs

WORDS = [
    "the",
    "fox",
    "found",
    "a",
    "lantern",
    "in",
    "the",
    "old",
    "mill",
    "and",
    "a",
    "storm",
    "broke",
    "over",
    "the",
    "valley",
    "while",
    "her",
    "brother",
    "hid",
    "a",
    "map",
]


class FakeStoryLLM(BaseLLM):
    """Seeded word salad with seeded log-probs; the judge says yes unless told `no_judge`."""

    name = "fake-story"

    def __init__(self, repeat: bool = False) -> None:
        self.repeat = repeat
        self.requests: list[Request] = []

    async def _complete(self, r: Request) -> list[Completion]:
        self.requests.append(r)
        prompt = str(r.messages[-1]["content"])
        if "Answer yes or no" in prompt:
            return [Completion("no" if "storm" in prompt.split("Next step:")[-1] else "yes")]
        rng = random.Random(f"{r.seed}|{prompt}")
        out = []
        for i in range(r.n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 9))]
            if self.repeat:
                words = WORDS[:6]
            lps = tuple(TokenLogprob(w, -rng.uniform(0.2, 5.0)) for w in words)
            text = " ".join(words).capitalize() + "."
            out.append(
                Completion(
                    text, "stop", lps if r.logprobs else None, Usage(1, len(words)), self.name, i
                )
            )
        return out


def test_curiosity_is_an_inverted_u_of_surprisal_minus_incoherence() -> None:
    w = CuriosityWeights(peak=2.0, width=1.0, curiosity=1.0, incoherence=0.5)
    assert inverted_u(2.0, 2.0, 1.0) == 1.0
    assert inverted_u(1.0, 2.0, 1.0) == pytest.approx(inverted_u(3.0, 2.0, 1.0))
    assert inverted_u(0.2, 2.0, 1.0) < inverted_u(1.5, 2.0, 1.0)  # too predictable
    assert inverted_u(6.0, 2.0, 1.0) < inverted_u(2.5, 2.0, 1.0)  # too random
    assert surprisal([-1.0, -3.0]) == 2.0
    assert step_value(StepScore(2.0, 1.0), w) == pytest.approx(0.5)


def test_sibling_pairs_take_best_and_worst_visited_children() -> None:
    nodes = {
        "r": (0, {"a": "A", "b": "B", "c": "C"}),
        "A": (1.0,),
        "B": (0.2,),
        "C": (0.6,),
    }
    problem = TreeProblem(nodes, players=1)
    result = MCTS(
        problem, ZeroEvaluator(1), MCTSConfig(budget=Budget(simulations=30), seed=0)
    ).search("r")
    pairs = list(sibling_pairs(result.root))
    assert [(p.chosen, p.rejected) for p in pairs] == [("a", "b")]
    assert pairs[0].chosen_value == 1.0 and pairs[0].rejected_value == pytest.approx(0.2)
    assert list(sibling_pairs(result.root, min_gap=0.9)) == []
    every = [(p.chosen, p.rejected) for p in sibling_pairs(result.root, every=True)]
    assert every == [("a", "c"), ("a", "b"), ("c", "b")]


def test_story_search_writes_a_five_step_story_with_tree_values_and_pairs(tmp_path: Path) -> None:
    llm = FakeStoryLLM()
    result = StoryAgent(llm, StoryConfig(steps=5, simulations=6)).run("a fox and a lantern")
    assert len(result.steps) == 5 and all(s["text"] for s in result.steps)
    assert all(
        s["incoherence"] == (1.0 if "storm" in s["text"].lower() else 0.0) for s in result.steps
    )
    assert len(result.trees) == 5 and result.pairs
    assert all(p["chosen_value"] > p["rejected_value"] for p in result.pairs)
    assert any(r.logprobs and r.n == 3 for r in llm.requests)  # siblings sampled with log-probs
    paths = write_story(result, tmp_path)
    saved = json.loads((tmp_path / "story.json").read_text())
    assert [s["value"] for s in saved["steps"]] == [s["value"] for s in result.steps]
    assert result.steps[0]["text"] in (tmp_path / "tree.html").read_text()
    pair = json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])
    assert set(pair) >= {"prompt", "chosen", "rejected"} and len(paths) == 5
    texts = [s["text"] for s in result.steps]
    mined = pairs_from_trees(result.premise, texts, result.trees)
    key = [(p["prompt"], p["chosen"], p["rejected"]) for p in result.pairs]
    assert sorted((p["prompt"], p["chosen"], p["rejected"]) for p in mined) == sorted(key)
    again = StoryAgent(FakeStoryLLM(), StoryConfig(steps=5, simulations=6)).run(
        "a fox and a lantern"
    )
    assert again.text == result.text  # deterministic


def test_near_duplicate_siblings_are_dropped_and_repeats_penalised() -> None:
    policy = StoryPolicy(FakeStoryLLM(repeat=True), StoryConfig(judge=False))
    first = policy.propose(StoryState("p"), 3)
    assert len(first) == 1  # three identical samples, one sibling
    repeated = policy.propose(StoryState("p", (first[0][0],)), 2)
    assert repeated[0][0].incoherence == 1.0  # it repeats the step before


def test_an_empty_prompt_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="story prompt is empty"):
        StoryAgent(FakeStoryLLM()).run("  ")


def test_story_search_on_a_tiny_local_model_uses_its_logprobs(tmp_path: Path) -> None:
    from tiny_models import build_tiny_llama

    from agents.llm import load_llm

    llm = load_llm(f"local:{build_tiny_llama(tmp_path / 'tiny')}", cache=False)
    cfg = StoryConfig(steps=2, simulations=3, max_tokens=8, judge=False)
    result = StoryAgent(llm, cfg).run("the fox")
    assert len(result.steps) == 2
    assert all(s["surprisal"] != cfg.weights.peak and s["surprisal"] > 0 for s in result.steps)


def test_solve_story_rejects_an_empty_prompt() -> None:
    from benchmarks.stories import solve_story
    from benchmarks.tasks import SolveOptions
    from foundation.errors import UserError

    with pytest.raises(UserError, match="story prompt is empty"):
        solve_story(SolveOptions(model="scripted:none.json", extra={"prompt": " "}))


def test_pairwise_judge_swaps_positions() -> None:
    from agents.llm import ScriptedLLM
    from benchmarks.stories import judge_pair

    always_first = ScriptedLLM(["1"], on_exhausted="repeat_last")
    assert judge_pair(always_first, "p", "a", "b") == 0.5  # position bias is not a win
    consistent = ScriptedLLM(["1", "2"])
    assert judge_pair(consistent, "p", "a", "b") == 1.0
    assert "Story 1: b" in consistent.calls[1].messages[0]["content"]


class LogprobJudge(BaseLLM):
    """Always answers "1" (position bias), but its log-probs favour the story with "good"
    in it by `edge` nats; `top` answer alternatives as a backend with top_logprobs gives."""

    name = "logprob-judge"

    def __init__(self, edge: float) -> None:
        self.edge = edge
        self.requests: list[Request] = []

    async def _complete(self, request: Request) -> list[Completion]:
        self.requests.append(request)
        text = request.messages[-1]["content"]
        good_first = "Story 1: good" in text
        lp1, lp2 = 2.0 + (self.edge if good_first else 0.0), self.edge * (not good_first)
        norm = math.log(math.exp(lp1) + math.exp(lp2) + 1.0)
        top = (TokenLogprob("1", lp1 - norm), TokenLogprob(" 2", lp2 - norm))
        top = (*sorted(top, key=lambda t: -t.logprob), TokenLogprob("x", -norm))
        lps = (TokenLogprob("1", lp1 - norm, top),) if request.top_logprobs else None
        return [Completion("1", "stop", lps, Usage(1, 1), self.name)]


def test_logprob_judge_cancels_position_bias_and_needs_no_text_agreement() -> None:
    from benchmarks.stories import judge_pair_detail

    fair = LogprobJudge(edge=1.0)
    score, first, second, p = judge_pair_detail(fair, "p", "good", "bad")
    assert (score, first, second) == (1.0, 1, 1)  # the text alone would be position bias
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert p == pytest.approx((sig(3.0) + sig(-1.0)) / 2)  # P("1"|a first), P("2"|b first)
    assert all(r.logprobs and r.top_logprobs == 10 for r in fair.requests)
    assert judge_pair_detail(fair, "p", "bad", "good")[0] == 0.0
    biased = LogprobJudge(edge=0.0)  # only the position preference: undecided
    score, _, _, p = judge_pair_detail(biased, "p", "good", "bad")
    assert score == 0.5 and p == pytest.approx(0.5)


def test_plain_story_samples_one_step_per_call() -> None:
    from benchmarks.stories import plain_story

    llm = FakeStoryLLM()
    result = plain_story(llm, "the fox", StoryConfig(steps=4, judge=False))
    assert len(result.steps) == 4 and result.llm_calls == 4
    assert all(r.n == 1 for r in llm.requests)
    assert not result.pairs


def test_compare_counts_position_bias_and_decided_pairs() -> None:
    from agents.graphs.story import StoryResult
    from agents.llm import ScriptedLLM
    from benchmarks.stories import compare_results

    def story(p: str, text: str) -> StoryResult:
        return StoryResult(p, [{"text": text, "surprisal": 2.0, "incoherence": 0.0}], 0.5, 1)

    a = [story("p1", "x"), story("p2", "y"), story("p3", "z")]
    b = [story("p1", "u"), story("p2", "v"), story("p3", "w")]
    judge = ScriptedLLM(["1", "2", "1", "1", "Story 2", "1"])  # a wins, biased, b wins
    c = compare_results("A", a, "B", b, judge)
    assert (c.win_rate_a, c.decided, c.same_position, c.unparsed) == (0.5, 2, 1, 0)
    assert [s["score_a"] for s in c.stories] == [1.0, 0.5, 0.0]
    assert c.by_logprobs == 0 and c.p_a is None  # scripted answers carry no log-probs
    good = [story("p1", "good"), story("p2", "good")]
    bad = [story("p1", "bad"), story("p2", "bad")]
    c = compare_results("A", good, "B", bad, LogprobJudge(edge=1.0))
    assert (c.win_rate_a, c.decided, c.by_logprobs, c.same_position) == (1.0, 2, 2, 2)
    assert c.p_a is not None and c.p_a > 0.5
    assert c.surprisal_a["mean"] == 2.0


def test_bench_stories_runs_search_plain_and_an_orpo_round_on_a_tiny_model(
    tmp_path: Path,
) -> None:
    from tiny_models import build_tiny_llama

    from agents.training.orpo import ORPOConfig
    from benchmarks.stories import bench_stories, write_bench

    spec = f"local:{build_tiny_llama(tmp_path / 'tiny')}"
    cfg = StoryConfig(steps=2, simulations=3, max_tokens=6, judge=False)
    orpo = ORPOConfig(steps=2, batch_size=2, heldout=0.34)
    bench = bench_stories(
        spec, spec, ["the fox", "the cat"], tmp_path / "work", cfg, orpo, ["a dog", "a map", "red"]
    )
    assert [c.system_a for c in bench.comparisons] == ["search", "ORPO-trained search"]
    assert all(c.premises == 2 and 0 <= c.win_rate_a <= 1 for c in bench.comparisons)
    assert bench.orpo["heldout_pairs"] > 0 and bench.pairs == (
        bench.orpo["train_pairs"] + bench.orpo["heldout_pairs"]
    )
    assert (tmp_path / "work" / "orpo-model" / "config.json").is_file()
    mined = [json.loads(x) for x in (tmp_path / "work" / "pairs.jsonl").read_text().splitlines()]
    assert len(mined) == bench.pairs and {m["premise"] for m in mined} <= {"a dog", "a map", "red"}
    assert len({(m["prompt"], m["chosen"], m["rejected"]) for m in mined}) == len(mined)
    json_path, md_path, png_path = write_bench(bench, tmp_path / "out" / "stories")
    assert "win rate" in md_path.read_text() and json.loads(json_path.read_text())["comparisons"]
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cached = sorted((tmp_path / "work" / "search").glob("*.json"))
    assert len(cached) == 2  # a rerun reads these instead of searching again


def test_story_pairs_mines_by_shard_resumes_and_pools_once_all_are_mined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiny_models import build_tiny_llama

    from benchmarks import story_pairs

    spec = f"local:{build_tiny_llama(tmp_path / 'tiny')}"
    premises = tmp_path / "premises.txt"
    premises.write_text("# a comment\na dog\n\na map\nred\n")
    out = tmp_path / "pairs.jsonl"
    args = ["--model", spec, "--premises-file", str(premises), "--work", str(tmp_path / "w")]
    args += ["--out", str(out)]
    small = StoryConfig(steps=2, simulations=3, max_tokens=6, judge=False)
    monkeypatch.setattr(story_pairs, "BENCH_STORY", small)
    assert story_pairs.main([*args, "--shard", "1/2"]) == 0
    assert "2 premise(s) not mined yet" in capsys.readouterr().out and not out.exists()
    mined = sorted((tmp_path / "w" / "mine").glob("*.json"))
    assert [m.name for m in mined] == ["a-map.json"]  # premise 1 of 0..2
    stamp = mined[0].stat().st_mtime_ns
    assert story_pairs.main([*args, "--shard", "0/2"]) == 0
    assert "wrote" in capsys.readouterr().out

    def no_model(*a: object, **k: object) -> None:
        raise AssertionError("a resumed shard with nothing to mine loaded the model")

    monkeypatch.setattr("agents.llm.load_llm", no_model)
    assert story_pairs.main([*args, "--shard", "1/2"]) == 0  # resumes: nothing to mine
    assert mined[0].stat().st_mtime_ns == stamp
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and {r["premise"] for r in rows} <= {"a dog", "a map", "red"}
    assert all({"prompt", "chosen", "rejected", "chosen_value"} <= r.keys() for r in rows)
    assert all(r["chosen_value"] > r["rejected_value"] for r in rows)
    with pytest.raises(SystemExit):
        story_pairs.main([*args, "--premises", "4"])
    assert "--premises must be in 0..3" in capsys.readouterr().err


def test_mining_premises_are_distinct_and_disjoint_from_the_evaluation_ones() -> None:
    from benchmarks.cosmos import slug
    from benchmarks.stories import PREMISES, TRAIN_PREMISES

    assert len(TRAIN_PREMISES) >= 100 and not any(p.startswith("#") for p in TRAIN_PREMISES)
    assert len({slug(p) for p in TRAIN_PREMISES}) == len(TRAIN_PREMISES)  # distinct cache files
    assert set(PREMISES).isdisjoint(TRAIN_PREMISES)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--premises", "99"], "--premises must be in 1..6"),
        (["--orpo-steps", "2", "--train-premises", "1"], "--train-premises must be in 2.."),
        (["--orpo-steps", "2", "--orpo-beta", "-1"], "--orpo-beta >= 0"),
        (["--orpo-steps", "2", "--orpo-lr", "0"], "--orpo-lr must be > 0"),
    ],
)
def test_bench_stories_cli_rejects_bad_options_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from agents.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["bench", "stories", *args])
    err = capsys.readouterr().err
    assert exit_.value.code != 0 and message in err and "Traceback" not in err
