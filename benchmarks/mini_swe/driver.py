"""Run mini-swe-agent on prepared SWE-bench checkouts; run by mini-swe-agent's OWN venv.

    .venv-mini/bin/python benchmarks/mini_swe/driver.py --manifest M.jsonl --output DIR \\
        --model openai/NAME --api-base http://127.0.0.1:PORT/v1 [--max-steps 8]

This file imports minisweagent (installed only in .venv-mini, benchmarks/mini_swe/setup.sh)
and none of our packages: `benchmarks.mini_swe.run` prepares each checkout (the repository
at the instance's base commit, fresh) from our venv and passes a manifest, one JSON line
per instance: {"instance_id", "problem_statement", "workdir", "base_commit"}.

Per instance it runs mini's `DefaultAgent` with its text-based model (`LitellmTextbasedModel`:
one ```mswea_bash_command block per answer, no tool calls) and the agent/model templates
of mini's `swebench_backticks.yaml` (its `/testbed` is the checkout here), in mini's
`BubblewrapEnvironment` (default; `--environment local`: its `LocalEnvironment`) with cwd
= the checkout, at most --max-steps model calls, no cost limit
(litellm has no price for our models: cost tracking `ignore_errors`). Whatever the exit
status, the prediction's patch is the checkout's `git diff` against HEAD with new files
(caches, *.orig/*.rej and mini's own patch.txt excluded: the same diff as our agents').

Writes, appending one fsynced line per instance and skipping instances already in
instances.jsonl (so a rerun resumes):
- DIR/predictions.jsonl: SWE-bench predictions (instance_id, model_name_or_path, model_patch);
- DIR/instances.jsonl: exit_status, steps (model calls), tokens (the server's usage),
  wall_seconds, format_errors, error, submission;
- DIR/trajectories/<instance_id>.traj.json: mini's trajectory.

The model's commands are hostile: by default each runs in bubblewrap through mini's own
`BubblewrapEnvironment` (the system's /usr, /bin, /lib and /etc read-only, the checkout the
only writable host directory, a private /tmp, no network, its own pid namespace), never
on the host as is; this file never reads or resolves a path the model wrote, and its git
calls ignore the checkout's hooks, fsmonitor and external diff drivers. `--environment
local` (mini's `LocalEnvironment`, no isolation) is for machines without bubblewrap.

Checked with the project (ruff, mypy); mypy sees minisweagent, which is not installed in
.venv, as Any.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PATCH_FILE = "patch.txt"
GIT = [
    "git",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.pager=cat",
    "-c", "diff.external=",
    "--no-pager",
]  # fmt: skip


def _git(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GIT, *args], cwd=workdir, capture_output=True, text=True, errors="replace",
        timeout=120, check=False,
    )  # fmt: skip


def work_tree_diff(workdir: Path) -> str:
    """The checkout's changes against HEAD, new files included (as our agents' diff)."""
    new = _git(workdir, "ls-files", "-z", "-o", "--exclude-standard").stdout.split("\0")
    keep = [
        f
        for f in new
        if f
        and f != PATCH_FILE
        and "__pycache__" not in f
        and not f.endswith((".pyc", ".orig", ".rej"))
    ]
    if keep:
        _git(workdir, "add", "-N", "--", *keep)
    r = _git(
        workdir, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD", "--",
        ".", ":(exclude)*.pyc", f":(exclude){PATCH_FILE}",
    )  # fmt: skip
    return r.stdout


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a torn last line (killed mid-write)
            if isinstance(row, dict):
                rows.append(row)
    return rows


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _usage(messages: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(prompt tokens, completion tokens, format errors) from the responses mini kept."""
    prompt = completion = errors = 0
    for m in messages:
        extra = m.get("extra") or {}
        if extra.get("interrupt_type") == "FormatError":
            errors += 1
        response = extra.get("response")
        if isinstance(response, dict):
            usage = response.get("usage") or {}
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
    return prompt, completion, errors


def load_config(path: str | None) -> dict[str, Any]:
    import yaml
    from minisweagent.config import builtin_config_dir

    file = Path(path) if path else builtin_config_dir / "benchmarks" / "swebench_backticks.yaml"
    config = yaml.safe_load(file.read_text())
    if not isinstance(config, dict):
        raise ValueError(f"{file} is not a mini-swe-agent config")
    return config


def solve_one(
    row: dict[str, Any], args: argparse.Namespace, config: dict[str, Any]
) -> dict[str, Any]:
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.models.litellm_textbased_model import LitellmTextbasedModel

    iid = str(row["instance_id"])
    workdir = Path(str(row["workdir"]))
    start = time.monotonic()
    out: dict[str, Any] = {"instance_id": iid, "steps": 0, "exit_status": "", "error": None}
    head = _git(workdir, "rev-parse", "HEAD").stdout.strip() if workdir.is_dir() else ""
    if head != row.get("base_commit"):
        out.update(exit_status="SetupError", error=f"{workdir} is not at base_commit")
        out.update(model_patch="", wall_seconds=round(time.monotonic() - start, 2))
        return out
    agent_cfg, model_cfg, env_cfg = config["agent"], config.get("model", {}), config["environment"]
    kwargs: dict[str, Any] = {
        "api_base": args.api_base,
        "api_key": args.api_key,
        "temperature": args.temperature,
        "drop_params": True,
        "timeout": args.request_timeout,
    }
    if args.max_tokens:
        kwargs["max_tokens"] = args.max_tokens
    model = LitellmTextbasedModel(
        model_name=args.model,
        model_kwargs=kwargs,
        cost_tracking="ignore_errors",
        observation_template=model_cfg["observation_template"],
        format_error_template=model_cfg["format_error_template"],
    )
    env = environment(args.environment, workdir, env_cfg)
    traj = Path(args.output) / "trajectories" / f"{iid}.traj.json"
    agent = DefaultAgent(
        model,
        env,
        system_template=agent_cfg["system_template"],
        instance_template=agent_cfg["instance_template"].replace("/testbed", str(workdir)),
        step_limit=args.max_steps,
        cost_limit=0,  # 0: no limit (our models have no price)
        output_path=traj,
    )
    submission = ""
    try:
        info = agent.run(task=str(row["problem_statement"]))
        out["exit_status"] = str(info.get("exit_status") or "")
        submission = str(info.get("submission") or "")
    except Exception as exc:  # the model or server failed: the row says why, the run goes on
        out["exit_status"] = type(exc).__name__
        out["error"] = _one_line(exc)
    prompt, completion, errors = _usage(agent.messages)
    out.update(
        steps=agent.n_calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens=prompt + completion,
        format_errors=errors,
        submitted=out["exit_status"] == "Submitted",
        submission_chars=len(submission),
    )
    try:
        out["model_patch"] = work_tree_diff(workdir)
    except (OSError, subprocess.SubprocessError) as exc:
        out["model_patch"], out["error"] = "", out["error"] or f"git diff: {_one_line(exc)}"
    out["wall_seconds"] = round(time.monotonic() - start, 2)
    return out


ISOLATION = ["--unshare-net", "--unshare-pid", "--die-with-parent"]
"""Added to mini's bubblewrap defaults: a command reaches no network (the model server is
called by this process, outside) and dies with the agent."""


def environment(kind: str, workdir: Path, env_cfg: dict[str, Any]) -> Any:
    """mini's environment for one checkout: "bubblewrap" (isolated) or "local"."""
    timeout, env = int(env_cfg.get("timeout", 60)), env_cfg.get("env", {})
    if kind == "local":
        from minisweagent.environments.local import LocalEnvironment

        return LocalEnvironment(cwd=str(workdir), timeout=timeout, env=env)
    from minisweagent.environments.extra.bubblewrap import (
        BubblewrapEnvironment,
        BubblewrapEnvironmentConfig,
    )

    wrapper = [*BubblewrapEnvironmentConfig().wrapper_args, *ISOLATION]
    return BubblewrapEnvironment(cwd=str(workdir), timeout=timeout, env=env, wrapper_args=wrapper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model", required=True, help="litellm model name: openai/<served name>")
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--model-name-or-path", default="", help="the predictions' model name")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=0, help="0: the server's default")
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--request-timeout", type=float, default=1800.0)
    parser.add_argument("--config", default=None, help="default: mini's swebench_backticks.yaml")
    parser.add_argument(
        "--environment",
        default="bubblewrap",
        choices=("bubblewrap", "local"),
        help="where the model's commands run: bubblewrap (isolated, default) or local",
    )
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        print("error: --max-steps must be at least 1", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        rows = _read_rows(Path(args.manifest))
    except (OSError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    done = {r.get("instance_id") for r in _read_rows(output / "instances.jsonl")}
    name = args.model_name_or_path or f"mini-swe-agent__{args.model.replace('/', '__')}"
    for row in rows:
        iid = row.get("instance_id")
        if iid in done:
            print(f"{iid}: already done (skipped)", flush=True)
            continue
        result = solve_one(row, args, config)
        pred = {
            "instance_id": iid,
            "model_name_or_path": name,
            "model_patch": result["model_patch"],
        }
        _append(output / "predictions.jsonl", pred)
        result["patch_chars"] = len(result.pop("model_patch"))
        _append(output / "instances.jsonl", result)
        print(
            f"{iid}: {result['exit_status']}, {result['steps']} steps, {result.get('tokens', 0)} tokens, "
            f"patch {result['patch_chars']} chars, {result['wall_seconds']:.0f}s"
            + (f" ({result['error']})" if result.get("error") else ""),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
    os.environ.setdefault("MSWEA_COST_TRACKING", "ignore_errors")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT", "3")
    sys.exit(main())
