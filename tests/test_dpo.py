"""LoRA-DPO (TRL + peft): training raises the held-out preference for the chosen answers;
the merged model saves and reloads without adapters; the per-pair report adds up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_models import build_tiny_llama

from agents.training.dpo import DPOConfig, dpo_rows, train_dpo
from agents.training.orpo import Pair

pytest.importorskip("trl", reason="DPO needs the train extra (pip install '.[train]')")
pytest.importorskip("peft", reason="DPO needs the train extra (pip install '.[train]')")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-dpo"))


def _load(path: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _pairs(n: int) -> list[Pair]:
    subjects = ["cat", "dog", "fox", "brother"]
    places = ["mill", "valley", "door", "mat"]
    return [
        Pair(
            f"what is on the {places[i % 4]} so far the {subjects[(i // 4) % 4]}",
            f"the {subjects[(i // 4) % 4]} sat on the {places[i % 4]}",
            f"no no the {places[i % 4]} {places[i % 4]} night",
            group=f"situation {i}",
        )
        for i in range(n)
    ]


def test_rows_are_trls_conversational_preference_format() -> None:
    (row,) = dpo_rows(_pairs(1))
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == _pairs(1)[0].prompt
    assert row["chosen"] == [{"role": "assistant", "content": _pairs(1)[0].chosen}]
    assert row["rejected"][0]["role"] == "assistant"


def test_dpo_raises_the_heldout_preference_and_saves_a_merged_model(
    tiny_dir: Path, tmp_path: Path
) -> None:
    model, tok = _load(tiny_dir)
    seen: list[tuple[str, int, int]] = []
    report = train_dpo(
        model,
        tok,
        _pairs(16),
        tmp_path / "dpo",
        DPOConfig(steps=30, lr=5e-3, batch_size=4, heldout=0.25),
        progress=lambda *a: seen.append(a),
    )
    assert list(dict.fromkeys(name for name, _, _ in seen)) == [
        "held-out before",
        "train",
        "held-out after",
    ]
    assert report.steps == 30 and report.train_pairs == 12 and report.heldout_pairs == 4
    assert report.heldout_margin_after > report.heldout_margin_before + 0.1
    assert report.train_margin_after > report.train_margin_before
    saved = json.loads((tmp_path / "dpo" / "dpo_report.json").read_text())
    assert sum(x["after"] > x["before"] for x in saved["heldout"]) == report.heldout_rose
    reloaded, _ = _load(tmp_path / "dpo")
    assert not any("lora" in name for name, _ in reloaded.named_parameters())


def test_no_pairs_is_an_error(tiny_dir: Path, tmp_path: Path) -> None:
    model, tok = _load(tiny_dir)
    with pytest.raises(ValueError, match="no preference pairs"):
        train_dpo(model, tok, [], tmp_path / "none", DPOConfig())


def test_long_prompts_lose_their_start_not_the_answers(tiny_dir: Path) -> None:
    from agents.training.dpo import fit_prompts

    _, tok = _load(tiny_dir)
    record = " ".join(["the cat sat on the mat"] * 60)
    long = Pair(record + " so far the fox", "the cat sat", "no no night", "g")
    short = _pairs(1)[0]
    fitted = fit_prompts([long, short], tok, max_length=96)
    assert fitted[1] == short  # fits already: untouched
    cut = fitted[0]
    assert cut.prompt.startswith("...") and cut.prompt.endswith("so far the fox")
    assert (cut.chosen, cut.rejected, cut.group) == (long.chosen, long.rejected, long.group)
    ids = tok.apply_chat_template(dpo_rows([cut])[0]["prompt"], add_generation_prompt=True,
                                  tokenize=True)  # fmt: skip
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    answer = max(len(tok(a)["input_ids"]) for a in (cut.chosen, cut.rejected))
    assert 60 < len(ids) + answer <= 96
