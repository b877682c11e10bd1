"""mini-swe-agent 2.4.6 on SWE-bench instances, served by `agents serve`, graded by ours.

    python -m benchmarks.mini_swe.run --model "oracle:swe,p=0.7,q=0.1,seed=0" \\
        --limit 14 --max-steps 8 --output /tmp/mini_runs/oracle_p0.7

1. `setup.sh` makes mini-swe-agent's own venv (default .venv-mini; idempotent);
2. each instance not done yet gets a fresh checkout at its base commit (OUT/work/<id>,
   `benchmarks.swe_bench.repos.materialize`, as our local sandbox prepares it);
3. `agents serve --model SPEC` starts on a free 127.0.0.1 port (its log: OUT/server.log);
4. `driver.py` runs mini-swe-agent in its venv against `openai/<served name>` there
   (OUT/mini/: predictions.jsonl, instances.jsonl, trajectories/; OUT/driver.log);
5. the server stops, our harness grades the predictions (`--sandbox local`, OUT/eval/);
6. OUT/mini_swe.json and OUT/mini_swe.md: resolved (95% Wilson interval), non-empty patch
   and patch-applies rates, steps, tokens and wall seconds per instance.

A rerun with the same OUT resumes (the driver skips instances it has written; grading
skips what is graded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from foundation.errors import UserError, one_line

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEFAULT_VENV = ROOT / ".venv-mini"
DRIVER = HERE / "driver.py"
SETUP = HERE / "setup.sh"
SERVED_NAME = "served"
LOCAL_MAX_TOKENS = 128
"""Answer cap of `local:` models (ours use 64 for their shorter action format; mini's
THOUGHT plus a fenced block needs more)."""
SERVER_START_TIMEOUT = 120.0
REPORT_KEYS = (
    "completed_instances", "resolved_instances", "unresolved_instances",
    "empty_patch_instances", "error_instances",
)  # fmt: skip


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(spec: str, port: int, log: Path) -> Iterator[str]:
    """`agents serve --model spec` on 127.0.0.1:port while the block runs; yields its
    base URL once GET /v1/models answers. Stopped with SIGTERM (graceful), then killed."""
    import httpx

    cmd = [
        sys.executable, "-m", "agents.cli", "serve", "--model", spec, "--served-name",
        SERVED_NAME, "--port", str(port), "--host", "127.0.0.1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise UserError(f"agents serve exited with {proc.returncode}: {tail[0][:300]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise UserError(f"agents serve did not answer within {SERVER_START_TIMEOUT:g}s")
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------- the steps


def setup_venv(venv: Path, log: IO[str] | None = None) -> Path:
    """mini-swe-agent's venv (setup.sh, idempotent); returns its python."""
    r = subprocess.run(["bash", str(SETUP), str(venv)], capture_output=True, text=True, check=False)
    if log is not None:
        log.write(r.stdout + r.stderr)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"setting up mini-swe-agent in {venv} failed: {tail[0][:300]}")
    return venv / "bin" / "python"


def read_rows(path: Path) -> list[dict[str, Any]]:
    from foundation.jsonl import read_rows as read

    return [r for r in read(path) if isinstance(r, dict)] if path.is_file() else []


def prepare(instances: list[dict[str, Any]], out: Path) -> Path:
    """Fresh checkouts at base commit of the instances the driver has not done; the
    manifest the driver reads (every selected instance, in order)."""
    from benchmarks.swe_bench.repos import materialize

    done = {r.get("instance_id") for r in read_rows(out / "mini" / "instances.jsonl")}
    manifest = out / "manifest.jsonl"
    rows = []
    for inst in instances:
        iid = str(inst["instance_id"])
        workdir = out / "work" / iid
        if iid not in done:
            if workdir.exists():
                shutil.rmtree(workdir)
            materialize(inst, workdir)
        rows.append(
            {
                "instance_id": iid,
                "problem_statement": inst["problem_statement"],
                "workdir": str(workdir.resolve()),
                "base_commit": inst["base_commit"],
            }
        )
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def drive(
    python: Path, manifest: Path, out: Path, url: str, args: argparse.Namespace, name: str
) -> None:
    cmd = [
        str(python), str(DRIVER), "--manifest", str(manifest), "--output", str(out / "mini"),
        "--model", f"openai/{SERVED_NAME}", "--api-base", url, "--max-steps",
        str(args.max_steps), "--temperature", str(args.temperature),
        "--model-name-or-path", name, "--environment", args.environment,
    ]  # fmt: skip
    if args.max_tokens:
        cmd += ["--max-tokens", str(args.max_tokens)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update(OPENAI_API_KEY="none", MSWEA_COST_TRACKING="ignore_errors")
    with open(out / "driver.log", "a") as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=out, errors="replace",
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            log.flush()
            if re.match(r"^\S+: ", line) and not line.startswith(("Traceback", "  ")):
                sys.stderr.write(line)
        rc = proc.wait()
    if rc != 0:
        raise UserError(f"the mini-swe-agent driver exited with {rc}; see {out / 'driver.log'}")


def grade(instances: list[dict[str, Any]], out: Path, name: str) -> dict[str, Any]:
    """Our harness over the driver's predictions (local sandbox); the report and rows."""
    from benchmarks.swe_bench import RunConfig, RunPaths, evaluate, read_results

    preds = {str(r["instance_id"]): r for r in read_rows(out / "mini" / "predictions.jsonl")}
    done = [i for i in instances if i["instance_id"] in preds]
    paths = RunPaths(out / "eval", "mini", name)
    report = evaluate(done, preds, paths, RunConfig(sandbox="local"))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return {"report": dict(report), "results": read_results(paths.results)}


# ----------------------------------------------------------------- the summary


def summarise(
    spec: str, args: argparse.Namespace, instances: list[dict[str, Any]], out: Path,
    graded: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    from benchmarks.werewolf import rate

    rows = {str(r["instance_id"]): r for r in read_rows(out / "mini" / "instances.jsonl")}
    ids = [str(i["instance_id"]) for i in instances if i["instance_id"] in rows]
    n = len(ids)
    report, results = graded["report"], graded["results"]
    resolved = set(report["resolved_ids"])
    nonempty = [i for i in ids if rows[i].get("patch_chars", 0) > 0]
    applied = [i for i in ids if (results.get(i) or {}).get("apply_cmd")]

    def mean(key: str) -> float:
        return round(sum(float(rows[i].get(key) or 0) for i in ids) / n, 2) if n else 0.0

    exits = Counter(str(rows[i].get("exit_status") or "?") for i in ids)
    return {
        "agent": "mini-swe-agent 2.4.6 (DefaultAgent, litellm_textbased, swebench_backticks)",
        "model": spec,
        "served_as": f"openai/{SERVED_NAME}",
        "dataset": args.dataset,
        "instances": n,
        "max_steps": args.max_steps,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "sandbox": f"local (grading); mini's {args.environment} environment (solving)",
        "resolved": rate(len(resolved & set(ids)), n),
        "non_empty_patch": rate(len(nonempty), n),
        "patch_applies": rate(len(applied), n),
        "patch_applies_of_non_empty": rate(len(applied), len(nonempty)),
        "steps_per_instance": mean("steps"),
        "tokens_per_instance": mean("tokens"),
        "prompt_tokens_per_instance": mean("prompt_tokens"),
        "completion_tokens_per_instance": mean("completion_tokens"),
        "wall_seconds_per_instance": mean("wall_seconds"),
        "format_errors_per_instance": mean("format_errors"),
        "exit_status": dict(sorted(exits.items())),
        "report": {k: report[k] for k in REPORT_KEYS},
        "resolved_ids": sorted(resolved & set(ids)),
        "error_reasons": report.get("error_reasons", {}),
        "per_instance": [
            {
                "instance_id": i,
                "exit_status": rows[i].get("exit_status"),
                "steps": rows[i].get("steps"),
                "tokens": rows[i].get("tokens"),
                "wall_seconds": rows[i].get("wall_seconds"),
                "patch_chars": rows[i].get("patch_chars"),
                "graded": (results.get(i) or {}).get("status", "empty patch"),
                "error": rows[i].get("error"),
            }
            for i in ids
        ],
    }


def _pct(r: dict[str, Any]) -> str:
    if r["rate"] is None:
        return "n/a"
    return f"{r['wins']}/{r['games']} = {r['rate']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"


def markdown(s: dict[str, Any]) -> str:
    lines = [
        f"# mini-swe-agent on {s['dataset']}: `{s['model']}`",
        "",
        f"{s['agent']}, served by `agents serve` as `{s['served_as']}`; "
        f"{s['instances']} instances, step limit {s['max_steps']}, "
        f"max_tokens {s['max_tokens'] or 'server default'}, temperature {s['temperature']:g}; "
        "graded by our harness (local sandbox).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| resolved (95% Wilson) | {_pct(s['resolved'])} |",
        f"| non-empty patch | {_pct(s['non_empty_patch'])} |",
        f"| patch applies | {_pct(s['patch_applies'])} |",
        f"| steps / instance | {s['steps_per_instance']} |",
        f"| tokens / instance | {s['tokens_per_instance']} |",
        f"| wall s / instance | {s['wall_seconds_per_instance']} |",
        f"| format errors / instance | {s['format_errors_per_instance']} |",
        f"| exit status | {', '.join(f'{k} {v}' for k, v in s['exit_status'].items())} |",
        "",
        "| instance | exit | steps | tokens | wall s | patch chars | graded |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in s["per_instance"]:
        lines.append(
            f"| {r['instance_id']} | {r['exit_status']} | {r['steps']} | {r['tokens']} | "
            f"{r['wall_seconds']} | {r['patch_chars']} | {r['graded']} |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ main


def default_output(spec: str) -> Path:
    return Path("/tmp/mini_runs") / re.sub(r"[^A-Za-z0-9_.=-]+", "_", spec)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.swe_bench import load_dataset
    from foundation.runs import run_lock

    if args.max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    if args.limit < 0:
        raise UserError("--limit must be 0 (all) or more")
    instances = [dict(i) for i in load_dataset(args.dataset)]
    if args.instances:
        wanted = set(args.instances.split(","))
        instances = [i for i in instances if i["instance_id"] in wanted]
        if unknown := wanted - {i["instance_id"] for i in instances}:
            raise UserError(f"no such instance in {args.dataset}: {', '.join(sorted(unknown))}")
    if args.limit:
        instances = instances[: args.limit]
    if args.max_tokens is None and args.model.startswith("local:"):
        args.max_tokens = LOCAL_MAX_TOKENS
    out: Path = args.output or default_output(args.model)
    name = "mini-swe-agent__" + args.model.replace("/", "__")
    with run_lock(out):
        with open(out / "setup.log", "a") as log:
            python = setup_venv(args.venv, log)
        manifest = prepare(instances, out)
        with served(args.model, args.port or free_port(), out / "server.log") as url:
            drive(python, manifest, out, url, args, name)
        graded = grade(instances, out, name)
        summary = summarise(args.model, args, instances, out, graded)
        (out / "mini_swe.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "mini_swe.md").write_text(markdown(summary))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", "-m", required=True, help="a model spec `agents serve` takes")
    ap.add_argument("--limit", type=int, default=14, help="the first N instances (0: all)")
    ap.add_argument("--instances", default="", help="comma-separated instance ids")
    ap.add_argument("--max-steps", type=int, default=8, help="mini's step limit (model calls)")
    ap.add_argument(
        "--max-tokens", type=int, default=None,
        help=f"max_tokens per answer (default: {LOCAL_MAX_TOKENS} for local:, else the server's)",
    )  # fmt: skip
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--dataset", default="swe-mini")
    ap.add_argument("--output", "-o", type=Path, default=None)
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="mini-swe-agent's venv")
    ap.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    ap.add_argument(
        "--environment", default="bubblewrap", choices=("bubblewrap", "local"),
        help="where the model's commands run: mini's bubblewrap environment (isolated, "
        "default; needs `bwrap`) or its local one (no isolation)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.environment == "bubblewrap" and shutil.which("bwrap") is None:
        print("error: bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, "
              "or pass --environment local to run the model's commands unisolated",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        s = run(args)
    except (UserError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    print(markdown(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
