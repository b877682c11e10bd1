"""The benchmarks' PNG plots: each draws from the committed result JSON (so a change of
format that breaks a plot fails here), from a small made-up result, and refuses a result
without its data; the reports link the PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import plots


def _png(path: Path) -> tuple[int, int]:
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and float(image.std()) > 0.01  # not a blank canvas
    return int(image.shape[1]), int(image.shape[0])


@pytest.mark.parametrize("stem", sorted(plots.PLOTS))
def test_every_plot_draws_from_its_committed_result(stem: str, tmp_path: Path) -> None:
    source, plot = plots.PLOTS[stem]
    result = json.loads((plots.RESULTS / source).read_text())
    path = plot(result, tmp_path / f"{stem}.png")
    width, height = _png(path)
    assert width >= 700 and height >= 400
    # The committed report shows the committed PNG.
    report = {"ray": "ray.md"}.get(stem, f"{stem}.md")
    assert f"]({stem}.png)" in (plots.RESULTS / report).read_text()
    assert (plots.RESULTS / f"{stem}.png").is_file()


def test_a_made_up_werewolf_result_is_drawn_and_a_broken_one_refused(tmp_path: Path) -> None:
    side: dict[str, Any] = {"rate": 0.5, "low": 0.4, "high": 0.6}
    summary = {"agents": {"a": {"werewolves": side, "village": side, "overall": side}}}
    _png(plots.werewolf(summary, tmp_path / "w.png"))
    with pytest.raises(KeyError):
        plots.werewolf({"agents": {"a": {"werewolves": side}}}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_redraw_writes_every_plot_whose_json_is_there(tmp_path: Path) -> None:
    for source, _ in plots.PLOTS.values():
        (tmp_path / source).write_text((plots.RESULTS / source).read_text())
    (tmp_path / "ray_overhead.json").unlink()
    drawn = plots.redraw(tmp_path)
    assert sorted(p.name for p in drawn) == sorted(f"{s}.png" for s in plots.PLOTS if s != "ray")


def test_the_werewolf_bench_writes_its_plot_beside_the_report(tmp_path: Path) -> None:
    from benchmarks.werewolf import WerewolfBench, run, summarize, write_reports

    cfg = WerewolfBench(agents=("rule", "random"), games=2, output=str(tmp_path / "w.jsonl"),
                        speed_seconds=0.0)  # fmt: skip
    paths = write_reports(cfg, summarize(cfg, run(cfg)))
    png = next(p for p in paths if p.suffix == ".png")
    _png(png)
    assert f"]({png.name})" in next(p for p in paths if p.suffix == ".md").read_text()
