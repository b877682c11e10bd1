"""The SWE-bench dataset flags `agents solve` and `agents eval swe-bench` share: which
instances (`--dataset`, `--split`), where their repositories come from (`--repos-dir`,
`--repo-url`), and their environments (`--images`, `--specs`, `--task-repo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import field_validator

from agents.commands.settings import CommandSettings, one_of

IMAGES = ("auto", "pull", "build", "local")

DATASET_HELP = (
    "swe-mini (bundled), a .json/.jsonl/.parquet file, a directory holding SPLIT.parquet, "
    "or a Hugging Face name (SWE-bench/SWE-bench_Lite, ..._Verified; needs `datasets` and "
    "the hub). --dataset_name is the harness's spelling."
)
SPLIT = typer.Option("test", "--split", help="Dataset split (Hugging Face names, directories).")
SPECS = typer.Option(
    [],
    "--specs",
    help="Environment specs for your own repos/versions: JSON or YAML keyed by repo, then "
    "version {python, pip_packages, install, pre_install, test_cmd, eval_commands, "
    "log_parser}, as SWE-bench's MAP_REPO_VERSION_TO_SPECS; merged over the bundled ones. "
    "Repeatable.",
)
REPOS_DIR = typer.Option(
    None,
    "--repos-dir",
    help="Git clones named DIR/owner__name (e.g. DIR/pytoolz__toolz); they win over "
    "bundled snapshots. Without one, repositories are cloned from --repo-url into a cache.",
)
REPO_URL = typer.Option(
    None,
    "--repo-url",
    help="Where to clone repositories from; {repo} is owner/name, also {owner}, {name} "
    "(default https://github.com/{repo}.git).",
)
IMAGE_MODE = typer.Option(
    "auto",
    "--images",
    help="Instance environments: auto (an image present locally, else pull the record's "
    "image, else build from --task-repo, else a spec), pull, build, or local (our "
    "registry-free environment from a spec).",
)
TASK_REPO = typer.Option(
    None,
    "--task-repo",
    help="A swebench task repository (tasks/<instance_id>/Dockerfile) to build images from.",
)


class SweDataSettings(CommandSettings):
    """The dataset and environment options of the SWE-bench commands."""

    split: str = "test"
    specs: tuple[Path, ...] = ()
    repos_dir: Path | None = None
    repo_url: str | None = None
    images: Annotated[str, one_of(*IMAGES)] = "auto"
    task_repo: Path | None = None

    @field_validator("specs")
    @classmethod
    def _specs_exist(cls, specs: tuple[Path, ...]) -> tuple[Path, ...]:
        for path in specs:
            if not path.is_file():
                raise ValueError(f"--specs {path}: no such file")
        return specs

    @field_validator("repos_dir", "task_repo")
    @classmethod
    def _directory(cls, path: Path | None, info: object) -> Path | None:
        name = getattr(info, "field_name", "") or ""
        if path is not None and not path.is_dir():
            raise ValueError(f"--{name.replace('_', '-')} {path}: no such directory")
        return path

    @field_validator("repo_url")
    @classmethod
    def _template(cls, url: str | None) -> str | None:
        if url is not None:
            try:
                url.format(repo="o/n", owner="o", name="n")
            except (KeyError, IndexError, ValueError):
                raise ValueError(
                    f"--repo-url {url!r}: only {{repo}}, {{owner}} and {{name}} may be filled in"
                ) from None
        return url
