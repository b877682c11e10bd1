"""Build swe-mini from PyPI sdists: snapshots in data/repos/, instances in data/swe-mini.jsonl.

    python -m benchmarks.swe_bench.mini.build --python /path/to/venv/bin/python

A maintainer tool (needs PyPI); the harness itself only reads what this writes. The
python given must have pytest (the version in specs.PYTEST). For each instance it
derives the base tree (fixed tree minus the bug, minus the instance's tests), the gold
`patch` and `test_patch` (git diffs base -> fixed), `base_commit`, and computes
FAIL_TO_PASS / PASS_TO_PASS by running the tests before and after the gold patch.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from benchmarks.swe_bench import official, repos
from benchmarks.swe_bench.dataset import INSTANCE_FIELDS
from benchmarks.swe_bench.mini.instances import SPECS, Spec
from benchmarks.swe_bench.mini.projects import PROJECTS, Project
from benchmarks.swe_bench.specs import spec_for, test_directives

DATA = Path(__file__).resolve().parent.parent / "data"


def _replace(root: Path, path: str, old: str, new: str, what: str) -> None:
    file = root / path
    text = file.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"{what}: expected text found {text.count(old)} times in {path}")
    file.write_text(text.replace(old, new))


def _method_block(text: str, name: str) -> str:
    """The source of test function or method `name`, up to the next one at its level or EOF."""
    indent = "    " if f"    def {name}(self" in text else ""
    start = text.index(f"\n{indent}def {name}(") + 1
    end = text.find(f"\n{indent}def ", start)
    return text[start : end + 1] if end != -1 else text[start:]


def fetch_sdist(project: Project, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    name = f"{project.dist}-{project.version}.tar.gz"
    if not (cache / name).exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"{project.dist}=={project.version}", "-d", str(cache)],
            check=True,
        )  # fmt: skip
    return cache / name


def fixed_tree(project: Project, sdist: Path, dest: Path) -> None:
    """The pruned sdist, with upstream bugs fixed and every instance's new tests added."""
    prefix = f"{project.dist}-{project.version}/"
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            rel = m.name[len(prefix) :] if m.name.startswith(prefix) else None
            if not rel or not m.isfile() or not rel.startswith(project.keep):
                continue
            if "__pycache__" in rel or rel.endswith(".pyc"):
                continue
            data = tar.extractfile(m)
            if data is None:  # never: m is a regular file
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data.read())
    for spec in SPECS:
        if spec.repo != project.repo:
            continue
        if spec.upstream_bug:
            for path, fixed, buggy in spec.bug:
                _replace(dest, path, buggy, fixed, f"{spec.instance_id} upstream fix")
        for path, code in spec.new_tests.items():
            file = dest / path
            file.write_text(file.read_text() + code)


def write_snapshot(src: Path, out: Path) -> None:
    """A reproducible tarball: sorted names, fixed mode, owner and times."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in src.rglob("*") if p.is_file() and ".git" not in p.parts):
            info = tarfile.TarInfo(path.relative_to(src).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(buf.getvalue())


def run_tests(python: str, repo: Path, project: Project, test_patch: str) -> dict[str, str]:
    spec = spec_for(project.repo, project.version)
    directives = [
        d for d in test_directives(spec, test_patch)
        if (repo / (d.replace(".", "/") + ".py" if spec.directives == "modules" else d)).exists()
    ]  # fmt: skip
    cmd = spec.test_cmd.replace("python ", f"{python} ", 1)
    proc = subprocess.run(
        f"{cmd} {' '.join(directives)}", shell=True, cwd=repo, capture_output=True, text=True
    )
    parse = official.log_parsers.PARSER_REGISTRY[spec.log_parser]
    statuses: dict[str, str] = parse(proc.stdout + "\n" + proc.stderr, None)  # test -> status
    return statuses


def build_instance(
    spec: Spec, project: Project, fixed: Path, env_commit: str, python: str
) -> dict[str, str]:
    work = Path(tempfile.mkdtemp(prefix=f"swe-mini-{spec.instance_id}-"))
    try:
        shutil.copytree(fixed, work, dirs_exist_ok=True)
        for path, fixed_text, buggy in spec.bug:
            _replace(work, path, fixed_text, buggy, f"{spec.instance_id} bug")
        for path, code in spec.new_tests.items():
            _replace(work, path, code, "", f"{spec.instance_id} tests")
        for path, fixed_text, base_text in spec.base_test_edits:
            if fixed_text.startswith("method:"):  # drop a whole test function or method
                fixed_text = _method_block((work / path).read_text(), fixed_text[7:])
            _replace(work, path, fixed_text, base_text, f"{spec.instance_id} test edit")
        base_commit = repos.commit_tree(
            work, repos.base_commit_message(project.repo, project.version)
        )
        test_paths = sorted({*spec.new_tests, *(p for p, _, _ in spec.base_test_edits)})
        src_paths = sorted({p for p, _, _ in spec.bug})
        for path in (*test_paths, *src_paths):
            shutil.copyfile(fixed / path, work / path)
        patch = repos.git(work, "diff", "--", *src_paths)
        test_patch = repos.git(work, "diff", "--", *test_paths)
        repos.git(work, "checkout", "-q", "--", ".")
        before_base = run_tests(python, work, project, test_patch)
        bad = {t: s for t, s in before_base.items() if s not in ("PASSED", "SKIPPED", "XFAIL")}
        if bad:
            raise SystemExit(f"{spec.instance_id}: the base tree fails its own tests: {bad}")
        repos.git(work, "apply", "-", input=test_patch)
        before = run_tests(python, work, project, test_patch)
        repos.git(work, "apply", "-", input=patch)
        after = run_tests(python, work, project, test_patch)
        failing_after = {t: s for t, s in after.items() if s not in ("PASSED", "SKIPPED", "XFAIL")}
        if failing_after:
            raise SystemExit(f"{spec.instance_id}: the gold patch leaves failures: {failing_after}")
        f2p = sorted(t for t, s in after.items() if s == "PASSED" and before.get(t) != "PASSED")
        p2p = sorted(t for t, s in after.items() if s == "PASSED" and before.get(t) == "PASSED")
        if not f2p:
            raise SystemExit(f"{spec.instance_id}: no test fails before the gold patch")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "repo": project.repo,
        "instance_id": spec.instance_id,
        "base_commit": base_commit,
        "patch": patch,
        "test_patch": test_patch,
        "problem_statement": spec.problem_statement,
        "hints_text": spec.hints_text,
        "created_at": project.created_at,
        "version": project.version,
        "FAIL_TO_PASS": json.dumps(f2p),
        "PASS_TO_PASS": json.dumps(p2p),
        "environment_setup_commit": env_commit,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", required=True, help="a python with pytest installed")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "swe-mini-sdists")
    args = ap.parse_args(argv)
    rows = []
    for project in PROJECTS.values():
        fixed = Path(tempfile.mkdtemp(prefix=f"swe-mini-{project.dist}-"))
        try:
            fixed_tree(project, fetch_sdist(project, args.cache), fixed)
            snapshot = repos.snapshot_path(project.repo, project.version)
            write_snapshot(fixed, snapshot)
            env_dir = Path(tempfile.mkdtemp())
            repos.extract_snapshot(snapshot, env_dir)
            env_commit = repos.commit_tree(
                env_dir, repos.base_commit_message(project.repo, project.version)
            )
            shutil.rmtree(env_dir)
            for spec in SPECS:
                if spec.repo == project.repo:
                    row = build_instance(spec, project, fixed, env_commit, args.python)
                    print(f"{row['instance_id']}: {len(json.loads(row['FAIL_TO_PASS']))} F2P, "
                          f"{len(json.loads(row['PASS_TO_PASS']))} P2P", file=sys.stderr)  # fmt: skip
                    rows.append(row)
        finally:
            shutil.rmtree(fixed, ignore_errors=True)
    out = DATA / "swe-mini.jsonl"
    with open(out, "w") as f:
        for row in rows:
            f.write(json.dumps({k: row[k] for k in INSTANCE_FIELDS}) + "\n")
    print(f"wrote {len(rows)} instances to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
