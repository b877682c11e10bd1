"""Evaluate one prediction the way SWE-bench does (ALGORITHMS.md section 4), in any Sandbox.

Fresh repo at base_commit -> apply the model patch (git apply, git apply --reject,
patch --fuzz=5) -> reset the test files and apply the test patch -> run the test files
of the test patch with `-rA` -> parse every test's status -> grade with swebench's own
`get_eval_report`. Logs use the official names (patch.diff, run_instance.log,
test_output.txt, report.json) in the official layout `<run_dir>/<model>/<instance_id>/`.
"""

from __future__ import annotations

import errno
import json
import shlex
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.swe_bench import official, repos
from benchmarks.swe_bench.dataset import Instance, Prediction
from benchmarks.swe_bench.specs import RepoSpec, spec_for, test_directives, test_files
from foundation.errors import UserError, one_line

if TYPE_CHECKING:
    from sandboxes import Sandbox

C = official.constants
# Inside .git/: private to this sandbox, untouched by git clean, not part of the tree.
PATCH_FILE = ".git/swe_model_patch.diff"
TEST_PATCH_FILE = ".git/swe_test_patch.diff"
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


def patch_sha(patch: object) -> str:
    """Which prediction was graded; defined for any JSON value (poisoned lines included)."""
    import hashlib

    text = patch if isinstance(patch, str) else ("" if patch is None else repr(patch))
    return hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:16]


def run_instance(
    instance: Instance, prediction: Prediction, log_dir: Path, config: RunConfig
) -> InstanceResult:
    """Grade one prediction; never raises for problems of the prediction, the patch, the
    repository or the tests: they end as an error result with the reason. What ends the
    whole run is raised: Docker gone, a failed environment build, a full disk, SIGTERM."""
    from sandboxes import (
        BuildError,
        DiskFullError,
        Limits,
        SandboxUnavailable,
        lifecycle,
        open_sandbox,
        scratch_dir,
    )

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
        spec = spec_for(instance["repo"], instance["version"])
        with scratch_dir(f"swe-{iid}") as tmp:
            repo = repos.materialize(instance, tmp / "repo", config.repos_dir)
            log.write(f"repo {instance['repo']} at {instance['base_commit']}")
            limits = Limits(
                memory_mb=config.memory_mb, pids=config.pids, timeout=config.test_timeout
            )
            with open_sandbox(config.sandbox, spec.env(), repo_dir=repo, limits=limits) as sb:
                _grade_in(sb, instance, prediction, spec, log_dir, log, result, config)
    except (SandboxUnavailable, BuildError, DiskFullError):
        raise  # Docker gone, a build failed, disk full: the run stops, graded work is kept
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
    except Exception as exc:  # this instance only: a hostile patch, a bad row, a sandbox fault
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
    spec: RepoSpec,
    log_dir: Path,
    log: _Log,
    result: InstanceResult,
    config: RunConfig,
) -> None:
    iid = instance["instance_id"]
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

    files = test_files(instance["test_patch"])
    sb.write_file(TEST_PATCH_FILE, instance["test_patch"])
    base = instance["base_commit"]
    quoted = " ".join(shlex.quote(f) for f in files)
    # As the official eval script: test files back to base_commit, then the test patch.
    reset = f"git checkout -q {base} -- {quoted} 2>/dev/null; git apply -v {TEST_PATCH_FILE}"
    r = sb.exec(reset, timeout=120)
    log.write(f"$ {reset}\n{r.stdout}{r.stderr}(exit {r.exit_code})")
    if not r.ok:
        result.status, result.reason = ERROR, "test patch did not apply after the model patch"
        return
    directives = " ".join(shlex.quote(d) for d in test_directives(spec, instance["test_patch"]))
    test_cmd = f"{spec.test_cmd} {directives}"
    log.write(f"$ {test_cmd}")
    r = sb.exec(test_cmd, timeout=config.test_timeout)
    output = "\n".join(
        [
            C.START_TEST_OUTPUT,
            r.stdout.rstrip("\n"),
            r.stderr.rstrip("\n"),
            C.END_TEST_OUTPUT,
            f"{C.TEST_EXIT_CODE}: {r.exit_code}",
        ]
    )
    if r.timed_out:
        output += f"\n{C.TESTS_TIMEOUT}"
    test_log = log_dir / C.LOG_TEST_OUTPUT
    test_log.write_text(output + "\n")
    log.write(f"tests exit {r.exit_code}" + (f", {r.reason}" if r.reason else ""))
    if r.timed_out:
        result.status = ERROR
        result.reason = f"tests timed out after {config.test_timeout:g}s"
        return
    test_spec = official.TestSpec(
        instance_id=iid,
        image="",
        eval_script_list=[],
        repo=instance["repo"],
        version=instance["version"],
        FAIL_TO_PASS=json.loads(instance["FAIL_TO_PASS"]),
        PASS_TO_PASS=json.loads(instance["PASS_TO_PASS"]),
        log_parser=spec.log_parser,
        eval_type=C.EvalType.PASS_AND_FAIL.value,
    )
    report = official.grading.get_eval_report(
        test_spec, prediction, str(test_log), include_tests_status=True
    )
    (log_dir / C.LOG_REPORT).write_text(json.dumps(report, indent=4))
    result.report = report
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
    from sandboxes import Limits, open_sandbox, scratch_dir

    spec = spec_for(instance["repo"], instance["version"])
    limits = Limits(memory_mb=config.memory_mb, pids=config.pids, timeout=config.test_timeout)
    with scratch_dir(f"swe-{instance['instance_id']}") as tmp:
        repo = repos.materialize(instance, tmp / "repo", config.repos_dir)
        # The sandbox copies the repo in when it opens; the temporary copy can go.
        return open_sandbox(
            config.sandbox, spec.env(), repo_dir=repo, network=network, limits=limits
        )
