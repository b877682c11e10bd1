"""Mine ORPO preference pairs from COS(M+O)S story search over many premises.

Each premise's story search is cached in WORK/mine/ (the layout `agents bench stories`
uses, so its outer loop reuses them); shards (`--shard i/n`) may run at once. When every
premise asked for is mined, the pooled pairs (tagged with their premise, so `agents train
orpo` holds whole premises out) are written to OUT.

    OMP_NUM_THREADS=1 python -m benchmarks.story_pairs --premises 60 --shard 0/2 &
    OMP_NUM_THREADS=1 python -m benchmarks.story_pairs --premises 60 --shard 1/2

Past one machine, `--executor ray` (or a cluster's address) mines each premise as a Ray
task instead: each node loads the model once (`agents.llm.remote`), and the story files
come back to this process, which alone writes WORK.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agents.graphs.story import StoryConfig
from benchmarks.cosmos import mine_path, mine_premise, mined_pairs, read_story
from benchmarks.stories import BENCH_STORY, load_premises
from foundation.errors import UserError
from foundation.executors import ExecutorSpec, executor_session, parse_executor
from foundation.jsonl import write_atomic
from foundation.runs import RunLog, in_scratch, run_units, unpack_files
from foundation.terminal import quiet

if TYPE_CHECKING:
    from agents.llm import LLM
    from agents.llm.remote import RemoteModel


def mine(
    model: str,
    premises: list[str],
    work: Path,
    story: StoryConfig = BENCH_STORY,
    shard: tuple[int, int] = (0, 1),
    executor: str | ExecutorSpec = "local",
) -> None:
    """Search a story for each premise of this shard (premise i with i % n == shard),
    skipping premises already cached; on a Ray `executor`, each premise is a Ray task."""
    from agents.llm import load_llm

    mine = [p for i, p in enumerate(premises) if i % shard[1] == shard[0]]
    # One log per shard (shards may run at once, each its own writer); a premise whose
    # story file exists is answered from it, so a row lost to a kill costs nothing.
    log = RunLog(
        work / "mine" / f"shard-{shard[0]}-of-{shard[1]}.jsonl", key=lambda r: r.get("premise")
    )
    todo = [p for p in mine if p not in log.done]
    if not todo:
        return
    writer = functools.cache(lambda: load_llm(model, cache=False))  # not when all are cached
    spec = parse_executor(executor)
    here = functools.partial(_mine_one, writer, work=work, story=story)
    if spec.kind != "local":  # stories cached here are logged here; the rest go remote
        _mine(log, [p for p in todo if mine_path(work, p).is_file()], shard, here, None, work)
        todo = [p for p in todo if p not in log.done]
        if not todo:
            return
    with executor_session(spec), _remote_writer(model, spec) as remote:
        there = functools.partial(_mine_remote, remote, story) if remote else None
        _mine(log, todo, shard, here, there, work)


@contextlib.contextmanager
def _remote_writer(model: str, spec: ExecutorSpec) -> Iterator[RemoteModel | None]:
    if spec.kind == "local":
        yield None
        return
    from agents.llm import LLMConfig
    from agents.llm.remote import remote_model

    with remote_model(LLMConfig(model=model, cache=False)) as remote:
        yield remote


def _mine_one(
    writer: Callable[[], LLM], premise: str, work: Path, story: StoryConfig
) -> dict[str, object]:
    """One premise's row: its story search (from the cache when there), its pair count."""
    start = time.perf_counter()
    if mine_path(work, premise).is_file():
        result = read_story(mine_path(work, premise))
    else:
        result = mine_premise(writer(), premise, work, story)
    return {
        "premise": premise,
        "pairs": len(mined_pairs(result)),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _mine_remote(remote: RemoteModel, story: StoryConfig, premise: str) -> dict[str, object]:
    """`_mine_one` on a Ray worker: the story file is written to scratch and sent back."""
    from sandboxes.scratch import scratch_dir

    return in_scratch(
        lambda tmp: _mine_one(lambda: remote.build()[0], premise, tmp, story),
        functools.partial(scratch_dir, "story-unit"),
    )


def _mine(
    log: RunLog,
    todo: list[str],
    shard: tuple[int, int],
    local: Callable[[str], dict[str, object]],
    remote: Callable[[str], dict[str, object]] | None,
    work: Path,
) -> None:
    from rich.progress import Progress

    with Progress(transient=False, disable=quiet()) as bar:
        task = bar.add_task(f"mining shard {shard[0]}/{shard[1]}", total=len(todo))

        def report(premise: str, row: dict[str, object] | None) -> None:
            if row is not None:
                bar.console.print(f"{row['seconds']:.0f}s {row['pairs']} pairs: {premise}")
                bar.advance(task)

        run_units(
            log, todo, key=lambda p: p, work=remote or local, on_row=report,
            executor="ray" if remote else "local",
            receive=(lambda _, row: unpack_files(row, work)) if remote else None,
        )  # fmt: skip


def collect(premises: list[str], work: Path, out: Path) -> tuple[int, list[str]]:
    """Pool the cached pairs of `premises` into OUT (atomically); returns (pairs written,
    premises not mined yet). Nothing is written while any premise is missing."""
    rows: list[dict[str, object]] = []
    missing = []
    for p in premises:
        path = mine_path(work, p)
        if not path.is_file():
            missing.append(p)
            continue
        rows += mined_pairs(read_story(path))
    if missing:
        return 0, missing
    write_atomic(out, "".join(json.dumps(r) + "\n" for r in rows))
    return len(rows), []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="local:smollm2", help="the story writer (a model spec)")
    ap.add_argument(
        "--premises", type=int, default=0, help="the first N premises of the file (0: all)"
    )
    ap.add_argument(
        "--premises-file",
        type=Path,
        default=Path(__file__).with_name("story_premises.txt"),
        help="one premise per line (# comments)",
    )
    ap.add_argument("--shard", default="0/1", help="i/n: mine the premises with index %% n == i")
    ap.add_argument("--work", type=Path, default=Path("runs/story-pairs"))
    ap.add_argument(
        "--executor",
        default="local",
        help="local, ray, ray://HOST:PORT or HOST:PORT: where premises are mined "
        "(foundation/executors.py)",
    )
    ap.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/story_pairs_smollm2.jsonl")
    )
    args = ap.parse_args(argv)
    try:
        premises = list(load_premises(args.premises_file))
        shard, shards = (int(x) for x in args.shard.split("/"))
        if not 0 <= shard < shards:
            raise ValueError
    except OSError as e:
        ap.error(f"cannot read the premises: {e}")
    except ValueError:
        ap.error(f"--shard must be i/n with 0 <= i < n, not {args.shard!r}")
    if args.premises < 0 or args.premises > len(premises):
        ap.error(f"--premises must be in 0..{len(premises)} ({args.premises_file})")
    premises = premises[: args.premises or len(premises)]
    try:
        mine(args.model, premises, args.work, BENCH_STORY, (shard, shards), args.executor)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n, missing = collect(premises, args.work, args.out)
    if missing:
        print(f"{len(missing)} premise(s) not mined yet (other shards?); {args.out} not written")
    else:
        print(f"wrote {n} pairs from {len(premises)} premises to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
