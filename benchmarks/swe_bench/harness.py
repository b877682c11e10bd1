"""Evaluate one prediction the way SWE-bench does (docs/methods.md section 4), in any Sandbox.

The instance's environment (benchmarks/swe_bench/environment.py: its official image, or
ours from a spec) -> apply the model patch (git apply, git apply --reject, patch
--fuzz=5) -> run the instance's eval script unchanged (it resets the test files, applies
the test patch and runs the tests between swebench's output markers; instances without
one get it generated from their spec) -> grade with swebench's own `get_eval_report`.
Logs use the official names (patch.diff, eval.sh, run_instance.log, test_output.txt,
report.json) in the official layout `<run_dir>/<model>/<instance_id>/`.
"""

from __future__ import annotations

import errno
import json
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.swe_bench import environment, official, repos
from benchmarks.swe_bench.dataset import Instance, Prediction
from benchmarks.swe_bench.environment import EnvError, InstanceEnv
from benchmarks.swe_bench.specs import SpecTable
from foundation.errors import UserError, one_line

if TYPE_CHECKING:
    from sandboxes import Sandbox

C = official.constants
# Inside .git/: private to this sandbox, untouched by git clean, not part of the tree.
PATCH_FILE = ".git/swe_model_patch.diff"
EVAL_FILE = ".git/swe_eval.sh"
RUN_EVAL = (
    "set -o pipefail; "
    f"{{ {{ bash {EVAL_FILE} 2>&1 1>&3 3>&- | sed -u 'w /dev/stderr'; }} 3>&1; }} "
    "| sed -n -e p -e 's/^>>>>> Test Exit Code: \\([0-9][0-9]*\\)$/\\1/w .git/swe_eval.code'; "
    'status=$?; code=$(tail -n 1 .git/swe_eval.code 2>/dev/null); exit "${code:-$status}"'
)
"""Run the eval script: its output as one stream in order (as the official harness logs
it), its stderr also passed on as stderr and its exit status the test command's (which
the script echoes), so the sandbox can tell a killed test run (out of memory, no more
processes) as it does for any command. GNU sed writes /dev/stderr without opening it
(`tee` would open /proc/self/fd/2, which a sandbox's own uid may not); only the stderr
copy is unbuffered (`-u` reads byte by byte: fine for xtrace lines, slow for 100 MB)."""
INSTALL_TIMEOUT = 900.0
APPLY_CMDS = (
    "git apply --verbose",
    "git apply --verbose --reject",
    "patch --batch --fuzz=5 -p1 -i",
)

RESOLVED, UNRESOLVED, ERROR = "resolved", "unresolved", "error"
TAMPERED = "tampered: "  # how the reason of a patch graded as tampered (--strict) starts


@dataclass
class InstanceResult:
    """One graded instance: the JSONL line the run appends (and resumes from)."""

    instance_id: str
    model_name_or_path: str
    status: str  # resolved | unresolved | error
    reason: str | None = None  # why it is an error (or what ended the tests abnormally)
    report: dict[str, Any] | None = None  # swebench's per-instance report (None for errors)
    patch_sha: str = ""  # which prediction was graded: a changed patch is regraded
    duration_s: float = 0.0
    apply_cmd: str | None = None
    strict: bool = False  # graded under --strict (tampering checked): a switch regrades

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class RunConfig:
    sandbox: str = "auto"  # docker | local | auto
    test_timeout: float = 900.0
    memory_mb: int = 2048
    pids: int = 256
    repos_dir: Path | None = None
    strict: bool = False  # a patch touching test infrastructure is graded as tampered
    images: str = "auto"  # auto | pull | build | local (environment.py)
    specs: SpecTable = field(default_factory=SpecTable)  # bundled, with --specs over them
    repo_url: str | None = None  # where repositories are cloned from ({repo}: owner/name)
    task_repo: Path | None = None  # swebench task repo: tasks/<id>/Dockerfile for --images build


def patch_sha(patch: object) -> str:
    """Which prediction was graded; defined for any JSON value (poisoned lines included)."""
    import hashlib

    text = patch if isinstance(patch, str) else ("" if patch is None else repr(patch))
    return hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:16]


def run_instance(
    instance: Instance, prediction: Prediction, log_dir: Path, config: RunConfig
) -> InstanceResult:
    """Grade one prediction; never raises for problems of the prediction, the patch, the
    instance's environment (no spec, no clone, a failed build, pull or install step), the
    repository or the tests: they end as an error result with the reason. What ends the
    whole run is raised: Docker gone, a full disk, SIGTERM."""
    from sandboxes import DiskFullError, SandboxUnavailable, lifecycle

    iid, model = instance["instance_id"], prediction["model_name_or_path"]
    patch = prediction["model_patch"] or ""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "patch.diff").write_text(
        patch if isinstance(patch, str) else repr(patch), errors="backslashreplace"
    )
    log = _Log(log_dir / C.LOG_INSTANCE)
    start = time.monotonic()
    result = InstanceResult(
        iid, model, ERROR, patch_sha=patch_sha(prediction["model_patch"]), strict=config.strict
    )
    try:
        if prediction.get("error"):  # a poisoned line: graded as an error, never run
            raise InvalidPrediction(prediction["error"])
        env = environment.resolve(instance, config)
        log.write(f"environment: {env.how}")
        log.write(f"repo {instance['repo']} at {instance['base_commit']}")
        with open_env(instance, env, config) as sb:
            _grade_in(sb, instance, prediction, env, log_dir, log, result, config)
    except (SandboxUnavailable, DiskFullError):
        raise  # Docker gone, disk full: the run stops, graded work is kept
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"no space left on device ({exc.filename or 'logs'}): free some space and "
                "rerun the same command; graded instances are kept"
            ) from None
        result.status, result.reason = ERROR, f"{type(exc).__name__}: {one_line(exc)}"
        log.write(f"error: {result.reason}")
    except InvalidPrediction as exc:
        result.status, result.reason = ERROR, one_line(exc)
        log.write(f"error: {result.reason}")
    except Exception as exc:  # this instance only: its environment, a hostile patch, a fault
        if lifecycle.stopping():
            raise  # SIGTERM closed its sandbox: not graded, so a rerun grades it
        result.status, result.reason = ERROR, f"{type(exc).__name__}: {one_line(exc)}"
        log.write(f"error: {result.reason}")
    result.duration_s = round(time.monotonic() - start, 2)
    log.write(f"status: {result.status}" + (f" ({result.reason})" if result.reason else ""))
    return result


def _grade_in(
    sb: Sandbox,
    instance: Instance,
    prediction: Prediction,
    env: InstanceEnv,
    log_dir: Path,
    log: _Log,
    result: InstanceResult,
    config: RunConfig,
) -> None:
    sb.write_file(PATCH_FILE, prediction["model_patch"] or "")
    applied = None
    # An empty patch is graded only when asked directly (dataset validation); runs skip it.
    cmds = APPLY_CMDS if (prediction["model_patch"] or "").strip() else ()
    if not cmds:
        applied = "(no patch)"
    first_error = ""
    for cmd in cmds:
        r = sb.exec(f"{cmd} {PATCH_FILE}", timeout=120)
        log.write(f"$ {cmd} {PATCH_FILE}\n{r.stdout}{r.stderr}(exit {r.exit_code})")
        if r.ok:
            applied = cmd
            break
        errors = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.startswith("error:")]
        first_error = first_error or (errors[0][len("error:") :].strip() if errors else "")
        # Undo a partial application before the next method tries.
        sb.exec("git checkout -q -- . && git clean -fdq", timeout=60)
    if applied is None:
        log.write(C.APPLY_PATCH_FAIL)
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
        why = first_error or tail[0]
        result.status, result.reason = ERROR, f"patch did not apply: {why[:200]}"
        return
    log.write(f"{C.APPLY_PATCH_PASS} ({applied})")
    result.apply_cmd = applied
    if config.strict:
        tampered = _tampering(sb, prediction["model_patch"] or "", instance["test_patch"])
        if tampered:
            result.status, result.reason = ERROR, TAMPERED + "; ".join(tampered)[:500]
            log.write(result.reason)
            return

    # The instance's eval script, unchanged (as swebench's TestSpec writes it): it resets
    # the test files, applies the test patch and runs the tests between the markers.
    test_spec = env.test_spec_for(instance)
    script = test_spec.eval_script
    (log_dir / "eval.sh").write_text(script)
    sb.write_file(EVAL_FILE, script)
    log.write(f"$ bash {EVAL_FILE} (eval.sh)")
    r = sb.exec(RUN_EVAL, timeout=config.test_timeout)
    output = r.stdout  # stderr is in it (RUN_EVAL)
    if r.timed_out:
        output += f"\n{C.TESTS_TIMEOUT}"
    test_log = log_dir / C.LOG_TEST_OUTPUT
    test_log.write_text(output.rstrip("\n") + "\n")
    log.write(f"eval script exit {r.exit_code}" + (f", {r.reason}" if r.reason else ""))
    if r.timed_out:
        result.status = ERROR
        result.reason = f"tests timed out after {config.test_timeout:g}s"
        return
    report = official.grading.get_eval_report(
        test_spec, prediction, str(test_log), include_tests_status=True
    )
    (log_dir / C.LOG_REPORT).write_text(json.dumps(report, indent=4))
    result.report = report
    iid = instance["instance_id"]
    result.status = RESOLVED if report[iid]["resolved"] else UNRESOLVED
    if r.reason:  # oom, output-capped, killed: the run ended abnormally but was graded
        result.reason = f"tests ended abnormally: {r.reason}"


def _tampering(sb: Sandbox, model_patch: str, test_patch: str) -> list[str]:
    """`--strict`: the ways the applied model patch touches test infrastructure. Files are
    read inside the sandbox (the patch is hostile: its paths are quoted, never resolved
    on the host)."""
    from benchmarks.swe_bench.tamper import tampering

    def read(cmd: str) -> str | None:
        r = sb.exec(cmd, timeout=60)
        return r.stdout if r.exit_code == 0 else None

    return tampering(
        model_patch,
        test_patch,
        read_base=lambda path: read(f"git show {shlex.quote('HEAD:' + path)}"),
        read_after=lambda path: read(f"cat -- {shlex.quote(path)}"),
    )


class InvalidPrediction(Exception):
    """A prediction line that cannot be graded (its reason comes from `load_predictions`)."""


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("")

    def write(self, text: str) -> None:
        with open(self.path, "a") as f:
            f.write(text.rstrip("\n") + "\n")


def open_instance(
    instance: Instance, config: RunConfig = RunConfig(), network: bool = False
) -> Sandbox:
    """A started sandbox with the instance's repo at base_commit in its environment: where
    an agent works on the instance. Its `git diff` at the end is the prediction's patch.
    Close it (or use it as a context manager)."""
    return open_env(instance, environment.resolve(instance, config), config, network)


def open_env(
    instance: Instance, env: InstanceEnv, config: RunConfig, network: bool = False
) -> Sandbox:
    """A started sandbox for `instance` in `env`: the image as is (the repository is in
    it), or our environment with the repository materialised and copied in, then the
    spec's install commands run (no network: pip finds what the environment has)."""
    from sandboxes import Limits, open_sandbox, resolve_kind, scratch_dir

    limits = Limits(memory_mb=config.memory_mb, pids=config.pids, timeout=config.test_timeout)
    if env.image is not None:
        sb = open_sandbox(
            config.sandbox, None, None, workdir=environment.WORKDIR, network=network,
            limits=limits, image=env.image, prelude=env.prelude,
        )  # fmt: skip
    else:
        with scratch_dir(f"swe-{instance['instance_id']}") as tmp:
            repo = repos.materialize(
                instance, tmp / "repo", config.repos_dir, repo_url=config.repo_url
            )
            # The sandbox copies the repo in when it opens; the temporary copy can go.
            sb = open_sandbox(
                config.sandbox, env.env, repo_dir=repo, workdir=environment.WORKDIR,
                network=network, limits=limits,
            )  # fmt: skip
    try:
        for cmd in env.install:
            r = sb.exec(
                f"export PIP_NO_INDEX=1 PIP_NO_BUILD_ISOLATION=0; {cmd}", timeout=INSTALL_TIMEOUT
            )
            if not r.ok:
                tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
                hint = ""
                if resolve_kind(config.sandbox) == "local":
                    hint = " (local sandboxes share a read-only environment: use --sandbox docker)"
                raise EnvError(
                    f"the spec's install step `{cmd}` failed (exit {r.exit_code}): "
                    f"{tail[0][:200]}{hint}"
                )
    except BaseException:
        sb.close()
        raise
    return sb
