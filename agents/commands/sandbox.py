"""`agents sandbox ...`: inspect the sandbox backends and remove orphaned containers."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any, ClassVar

import typer

from agents.commands import CLI
from agents.commands.settings import CommandSettings


class SandboxStatusSettings(CommandSettings):
    """`agents sandbox status`'s options."""

    FLAGS: ClassVar[dict[str, str]] = {"as_json": "--json"}

    as_json: bool = False


class SandboxGcSettings(CommandSettings):
    """`agents sandbox gc`'s options."""

    FLAGS: ClassVar[dict[str, str]] = {"everything": "--all"}

    everything: bool = False


def register(cli: CLI) -> None:
    group = typer.Typer(help="Sandboxes: Docker and local backends.", no_args_is_help=True)
    cli.app.add_typer(group, name="sandbox")

    @group.command()
    def status(
        as_json: bool = typer.Option(
            False, "--json", help="Print the status as JSON on stdout (no tables)."
        ),
    ) -> None:
        """Which backends work here, which images are built, and what each sandbox mode
        guarantees on this machine (see "Security model" in sandboxes/README.md)."""
        settings = SandboxStatusSettings(as_json=as_json)
        from rich.console import Console

        from sandboxes import cgroups, docker_available, engine, guarantees, images
        from sandboxes.isolation import NOBODY, bwrap_works

        ok, reason = docker_available()
        bwrap = bwrap_works(NOBODY if os.geteuid() == 0 else None)
        status: dict[str, Any] = {
            "docker": {"usable": ok, "detail": reason},
            "local": {"usable": True, "bubblewrap": bwrap},
        }
        if ok:
            client = engine.client()
            base = images.base_image()
            status["docker"]["base_image"] = base
            status["docker"]["base_image_built"] = images.image_exists(client, base)
            status["docker"]["environment_images"] = len(client.images.list(name=images.ENV_REPO))
        cgroup, why = cgroups.available()
        limits = f"per-sandbox {why}" if cgroup else f"per-process rlimits only ({why})"
        status["local"]["limits"] = limits
        rows = guarantees.table()
        if settings.as_json:
            status["guarantees"] = {
                key: {mode: asdict(cell) for mode, cell in row.items()} for key, row in rows.items()
            }
            typer.echo(json.dumps(status, indent=2))
            return
        typer.echo(f"docker: {'yes' if ok else 'no'} ({reason})")
        typer.echo(f"local: yes (bubblewrap isolation: {'yes' if bwrap else 'no'})")
        if ok:
            built = "built" if status["docker"]["base_image_built"] else "missing"
            typer.echo(f"base image {base}: {built}")
            typer.echo(f"environment images: {status['docker']['environment_images']}")
        typer.echo(f"local limits: {limits}")
        Console(width=max(120, Console().width)).print(guarantees.render(rows))

    @group.command()
    def gc(
        everything: bool = typer.Option(
            False, "--all", help="Also remove containers whose owner still runs."
        ),
    ) -> None:
        """Remove what crashed or killed runs left behind: sandbox containers, local sandbox
        and repository-copy directories in the temp dir, and per-sandbox cgroups (with any
        process still in them). Only what belongs to a process that is gone; --all also
        removes containers whose owner still runs."""
        settings = SandboxGcSettings(everything=everything)
        from sandboxes import cgroups, docker_available, engine, scratch

        ok, why = docker_available()
        if ok:
            removed = engine.remove_orphans(everything=settings.everything)
            typer.echo(
                f"removed {len(removed)} container(s)"
                + (": " + ", ".join(removed) if removed else "")
            )
        else:  # the local leftovers are still ours to remove
            typer.echo(f"containers: not checked ({why.split(';')[0]})")
        dirs = scratch.remove_orphans()
        typer.echo(f"removed {len(dirs)} directory(ies)" + "".join(f"\n  {d}" for d in dirs))
        typer.echo(f"removed {len(cgroups.remove_orphans())} cgroup(s)")
