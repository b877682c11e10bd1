"""ORPO: the loss matches a hand computation; training raises the held-out preference for
the chosen answers; the saved model loads as `local:PATH`; the CLI trains from a file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tiny_models import build_tiny_llama

from agents.training.orpo import (
    ORPOConfig,
    Pair,
    PrefixCache,
    load_pairs,
    orpo_loss,
    preference_margin,
    sequence_logps,
    train_orpo,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-orpo"))


def _load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_orpo_loss_matches_a_hand_computation() -> None:
    chosen, rejected, beta = [-0.5, -1.0], [-1.2, -0.8], 0.1
    expected = []
    for c, r in zip(chosen, rejected, strict=True):
        log_odds = (c - math.log(1 - math.exp(c))) - (r - math.log(1 - math.exp(r)))
        expected.append(-c - beta * math.log(1 / (1 + math.exp(-log_odds))))
    c_t, r_t = torch.tensor(chosen), torch.tensor(rejected)
    loss, ratio = orpo_loss(c_t, r_t, -c_t, beta)
    assert float(loss) == pytest.approx(sum(expected) / 2, abs=1e-6)
    assert float(ratio[0]) == pytest.approx(
        (-0.5 - math.log(1 - math.exp(-0.5))) - (-1.2 - math.log(1 - math.exp(-1.2))), abs=1e-6
    )


def test_sequence_logps_average_only_the_answer_tokens(tiny_dir: Path) -> None:
    model, tok = _load(tiny_dir)
    with torch.no_grad():
        logp, counts = sequence_logps(
            model, tok, ["the cat", "the cat"], ["sat on", "sat on the mat"]
        )
    assert counts.tolist() == [3, 5]  # answer words + end of turn
    from agents.llm.local_model import DEFAULT_SYSTEM

    ids = tok.apply_chat_template(  # the prompt as `local:` models are asked it
        [{"role": "system", "content": DEFAULT_SYSTEM}, {"role": "user", "content": "the cat"}],
        add_generation_prompt=True,
        tokenize=True,
    )
    ids = list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    full = ids + tok("sat on", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=torch.tensor([full])).logits[0, :-1], -1)
    by_hand = sum(float(lp[i - 1, full[i]]) for i in range(len(ids), len(full))) / 3
    assert float(logp[0]) == pytest.approx(by_hand, abs=1e-4)


def _pairs(n: int) -> list[Pair]:
    subjects = ["cat", "dog", "fox", "brother"]
    places = ["mill", "valley", "door", "mat"]
    return [
        Pair(
            f"write the next step so far the {subjects[i % 4]} {places[(i // 4) % 4]}",
            f"the {subjects[i % 4]} found a lantern in the {places[(i // 4) % 4]}",
            f"lantern lantern the the {places[(i // 4) % 4]} {subjects[i % 4]} a a",
        )
        for i in range(n)
    ]


def test_training_raises_the_heldout_preference_and_saves_a_loadable_model(
    tiny_dir: Path, tmp_path: Path
) -> None:
    model, tok = _load(tiny_dir)
    pairs = _pairs(16)
    seen: list[tuple[str, int, int]] = []
    report = train_orpo(
        model,
        tok,
        pairs,
        tmp_path / "trained",
        ORPOConfig(steps=40, lr=3e-3, heldout=0.25),
        progress=lambda *a: seen.append(a),
    )
    phases = list(dict.fromkeys(name for name, _, _ in seen))
    assert phases == ["held-out before", "train", "held-out after"]
    assert [x for x in seen if x[0] == "train"][-1] == ("train", 40, 40)
    _, done, total = [x for x in seen if x[0] == "held-out after"][-1]
    assert done == total and 4 < total <= 8  # distinct sequences of the 4 held-out pairs
    assert report.heldout_pairs == 4 and report.train_pairs == 12
    assert report.heldout_margin_after > report.heldout_margin_before + 0.5
    assert report.last_loss < report.first_loss
    saved = json.loads((tmp_path / "trained" / "orpo_report.json").read_text())
    per_pair = saved["heldout"]  # per held-out pair, for paired statistics across runs
    assert len(per_pair) == 4 and sum(x["after"] > x["before"] for x in per_pair) == (
        report.heldout_rose
    )
    assert sum(x["before"] for x in per_pair) / 4 == pytest.approx(
        report.heldout_margin_before, abs=1e-4
    )
    # The learning curve: the loss of every step, drawn by `agents train orpo`.
    assert len(saved["losses"]) == 40 and saved["losses"][0] == pytest.approx(
        report.first_loss, abs=1e-4
    )
    from benchmarks.plots import orpo_losses

    png = orpo_losses(saved, tmp_path / "curve.png")
    assert png.stat().st_size > 5000
    with pytest.raises(ValueError, match="no training steps"):
        orpo_losses({**saved, "losses": []}, tmp_path / "empty.png")
    from agents.llm import load_llm

    llm = load_llm(f"local:{tmp_path / 'trained'}", cache=False)
    out = llm.complete_sync([{"role": "user", "content": "the cat"}], max_tokens=4, logprobs=True)
    assert out[0].logprobs is not None
    reloaded, tok2 = _load(tmp_path / "trained")
    held = pairs[:4]
    assert preference_margin(reloaded, tok2, held) == pytest.approx(
        preference_margin(model, tok, held), abs=1e-4
    )


def test_cli_trains_from_a_pairs_file_and_rejects_bad_input(tiny_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps(p.__dict__ | {"chosen_value": 1.0}) + "\n" for p in _pairs(6))
    )
    assert len(load_pairs(path)) == 6
    cmd = [
        sys.executable,
        "-m",
        "agents.cli",
        "train",
        "orpo",
        "--pairs",
        str(path),
        "--model",
        f"local:{tiny_dir}",
        "--out",
        str(tmp_path / "m"),
        "--steps",
        "3",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert (
        "held-out log-odds preference" in run.stdout and (tmp_path / "m" / "config.json").is_file()
    )
    assert "train" in run.stderr and "3/3" in run.stderr  # the progress bar
    (tmp_path / "bad.jsonl").write_text('{"prompt": "x"}\n')
    bad = subprocess.run(
        [*cmd[:6], str(tmp_path / "bad.jsonl"), *cmd[7:]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        bad.returncode != 0
        and bad.stderr.startswith("error:")
        and "prompt, chosen, rejected" in bad.stderr
    )
    fold = subprocess.run([*cmd, "--fold", "3/3"], capture_output=True, text=True, timeout=300)
    assert fold.returncode != 0 and fold.stderr.startswith("error: --fold I/K needs")


def test_trl_backend_with_lora_trains_and_saves_a_merged_model(
    tiny_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    model, tok = _load(tiny_dir)
    cfg = ORPOConfig(steps=2, lr=1e-3, batch_size=2, heldout=0.25, backend="trl", lora=True)
    report = train_orpo(model, tok, _pairs(8), tmp_path / "trl", cfg)
    assert report.steps == 2 and (tmp_path / "trl" / "config.json").is_file()
    reloaded, _ = _load(tmp_path / "trl")
    assert not any("lora" in name for name, _ in reloaded.named_parameters())


def test_held_out_pairs_come_from_premises_not_trained_on() -> None:
    from agents.training.orpo import split_pairs

    pairs = [
        Pair(f"You are writing.\nPremise: premise {g}\nPlot so far:\n{i}", f"c{g}{i}", f"r{g}{i}")
        for g in range(8)
        for i in range(g % 3 + 2)  # groups of 2, 3 or 4 pairs
    ]
    train, held = split_pairs(pairs, 0.25, seed=1)
    assert len(train) + len(held) == len(pairs)
    assert {p.key for p in train}.isdisjoint({p.key for p in held})
    assert abs(len(held) - 0.25 * len(pairs)) <= 4 and held
    tagged = [Pair(p.prompt, p.chosen, p.rejected, group=str(i % 2)) for i, p in enumerate(pairs)]
    train, held = split_pairs(tagged, 0.25, seed=1)
    assert {p.group for p in held} in ({"0"}, {"1"})  # the explicit group wins
    one = [Pair(f"Premise: one\n{i}", "c", "r") for i in range(4)]
    train, held = split_pairs(one, 0.25, seed=0)
    assert len(held) == 1 and len(train) == 3  # one premise: split by prompt


def test_folds_hold_out_every_premise_exactly_once() -> None:
    from agents.training.orpo import split_pairs

    pairs = [Pair(f"Premise: p{g}\n{i}", f"c{i}", f"r{i}") for g in range(7) for i in range(3)]
    held_keys: list[str] = []
    for fold in range(3):
        train, held = split_pairs(pairs, 0.0, seed=4, folds=3, fold=fold)
        assert len(train) + len(held) == len(pairs)
        assert {p.key for p in train}.isdisjoint({p.key for p in held})
        assert len({p.key for p in held}) in (2, 3)  # 7 premises dealt into 3 folds
        held_keys += sorted({p.key for p in held})
    assert sorted(held_keys) == sorted({p.key for p in pairs})

    def first_fold(seed: int) -> set[str]:
        return {p.key for p in split_pairs(pairs, 0.0, seed=seed, folds=3, fold=0)[1]}

    assert any(first_fold(s) != first_fold(4) for s in range(5, 10))  # the seed reshuffles
    with pytest.raises(ValueError, match=r"fold must be in 0\.\.2"):
        split_pairs(pairs, 0.0, seed=0, folds=3, fold=3)
    with pytest.raises(ValueError, match="at least 9 premises"):
        split_pairs(pairs, 0.0, seed=0, folds=9, fold=0)


def test_lora_in_our_loop_raises_the_preference_and_saves_a_plain_model(
    tiny_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("peft")
    model, tok = _load(tiny_dir)
    pairs = _pairs(16)
    cfg = ORPOConfig(steps=30, lr=1e-2, heldout=0.25, lora=True, lora_rank=4, max_prompt=6)
    report = train_orpo(model, tok, pairs, tmp_path / "lora", cfg)
    assert report.heldout_margin_after > report.heldout_margin_before
    assert 0 <= report.heldout_rose <= report.heldout_pairs == 4
    assert report.heldout_rose >= 3
    reloaded, _ = _load(tmp_path / "lora")
    assert not any("lora" in name for name, _ in reloaded.named_parameters())


def test_top_layers_trains_only_the_last_blocks(tiny_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_dir)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = ORPOConfig(steps=20, lr=1e-2, heldout=0.25, top_layers=1, max_prompt=6)
    report = train_orpo(model, tok, _pairs(16), tmp_path / "top", cfg)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    last = len(model.model.layers) - 1
    assert changed and all(f"layers.{last}." in n or n == "model.norm.weight" for n in changed)
    assert report.train_margin_after > report.train_margin_before
    assert report.prefix_cache  # the top block trained on cached inputs of the frozen one
    timed = train_orpo(
        model, tok, _pairs(16), tmp_path / "t", ORPOConfig(steps=10**6, max_seconds=0.5)
    )
    assert 1 <= timed.steps < 10**6  # stopped by the time limit, and says how far it got


def test_the_prefix_cache_gives_the_full_forward_and_its_gradients(tiny_dir: Path) -> None:
    model, tok = _load(tiny_dir)
    model.eval()
    pairs = _pairs(4)
    cache = PrefixCache(model, tok, top=1, max_prompt=6)
    assert cache.check(pairs)
    prompts = [p.prompt for p in pairs] * 2
    answers = [p.chosen for p in pairs] + [p.rejected for p in pairs]
    top = list(model.model.layers)[-1]
    grads = []
    for fast in (False, True):
        model.zero_grad()
        if fast:
            logps, _ = cache.logps(prompts, answers)
        else:
            logps, _ = sequence_logps(model, tok, prompts, answers, max_prompt=6)
        logps.sum().backward()
        grads.append([p.grad.clone() for p in top.parameters()])
    for slow, quick in zip(*grads, strict=True):
        assert torch.allclose(slow, quick, atol=1e-5)
    assert len(model.model.layers) == 2  # the swapped-out blocks are back
    # A stale cache (a "frozen" block changed after caching) fails the check.
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight.add_(0.5)
    assert not cache.check(pairs)


def test_orpo_cv_pools_the_folds_paired_changes(tmp_path: Path) -> None:
    from benchmarks.orpo_cv import lines, load_report, main, pool

    def report(fold: int, pairs: list[tuple[float, float]]) -> Path:
        d = tmp_path / f"f{fold}"
        d.mkdir()
        held = [
            {"premise": f"p{fold}{i % 2}", "before": b, "after": a}
            for i, (b, a) in enumerate(pairs)
        ]
        body = {"train_pairs": 10, "train_margin_before": 0.1, "train_margin_after": 0.5,
                "seconds": 3.0, "config": {"fold": fold, "folds": 2}, "heldout": held}  # fmt: skip
        (d / "orpo_report.json").write_text(json.dumps(body))
        return d

    runs = [report(0, [(0.0, 0.5), (1.0, 1.0)]), report(1, [(0.2, 0.1), (-1.0, 0.0), (0.5, 1.1)])]
    p = pool([load_report(r) for r in runs])
    assert p["pairs"] == 5 and p["rose"] == 3
    assert p["mean_change"] == pytest.approx((0.5 + 0.0 - 0.1 + 1.0 + 0.6) / 5)
    assert [r["heldout_premises"] for r in p["folds"]] == [2, 2]
    assert p["folds"][1]["before"] == pytest.approx(-0.1)
    assert p["premises"] == 4 and p["premises_rose"] == 3  # p00 +0.5, p01 0, p10 +0.25, p11 +1
    assert p["premise_mean_change"] == pytest.approx((0.5 + 0.0 + 0.25 + 1.0) / 4)
    assert "rose on 3/5" in lines(p)[-1] and main([str(r) for r in runs]) == 0
    (tmp_path / "old.json").write_text(json.dumps({"train_pairs": 1}))
    with pytest.raises(SystemExit):
        main([str(tmp_path / "old.json")])


def test_pair_log_odds_scores_shared_sequences_once_and_matches_pair_by_pair(
    tiny_dir: Path,
) -> None:
    from agents.training.orpo import pair_log_odds, pair_loss

    model, tok = _load(tiny_dir)
    sib = ["the fox ran", "a lantern glowed in the mill", "storm", "the map was gone again"]
    pairs = [Pair("Premise: p\nnext?", a, b) for i, a in enumerate(sib) for b in sib[i + 1 :]]
    pairs.append(Pair("Premise: q\nnext?", "the fox ran", "storm"))  # same answers, new prompt
    seen: list[tuple[int, int]] = []
    fast = pair_log_odds(model, tok, pairs, batch_size=3, progress=lambda *a: seen.append(a))
    assert seen[-1] == (6, 6)  # 4 siblings + 2 sequences of the other prompt, not 14
    with torch.no_grad():
        slow = [float(pair_loss(model, tok, [p], beta=0.0)[1][0]) for p in pairs]
    assert fast == pytest.approx(slow, abs=1e-4)
    assert pair_log_odds(model, tok, []) == []
