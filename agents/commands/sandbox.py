"""`agents sandbox ...`: inspect the sandbox backends and remove orphaned containers."""

from __future__ import annotations

import os
from typing import ClassVar

import typer

from agents.commands import CLI
from agents.commands.settings import CommandSettings


class SandboxGcSettings(CommandSettings):
    """`agents sandbox gc`'s options (`agents sandbox status` has none)."""

    FLAGS: ClassVar[dict[str, str]] = {"everything": "--all"}

    everything: bool = False


def register(cli: CLI) -> None:
    group = typer.Typer(help="Sandboxes: Docker and local backends.", no_args_is_help=True)
    cli.app.add_typer(group, name="sandbox")

    @group.command()
    def status() -> None:
        """Which backends work here, which images are built, and what each sandbox mode
        guarantees on this machine (see "Security model" in sandboxes/README.md)."""
        from rich.console import Console

        from sandboxes import cgroups, docker_available, engine, guarantees, images
        from sandboxes.isolation import NOBODY, bwrap_works

        ok, reason = docker_available()
        typer.echo(f"docker: {'yes' if ok else 'no'} ({reason})")
        typer.echo(
            f"local: yes (bubblewrap isolation: {'yes' if bwrap_works(NOBODY if os.geteuid() == 0 else None) else 'no'})"
        )
        if ok:
            client = engine.client()
            base = images.base_image()
            typer.echo(
                f"base image {base}: {'built' if images.image_exists(client, base) else 'missing'}"
            )
            envs = client.images.list(name=images.ENV_REPO)
            typer.echo(f"environment images: {len(envs)}")
        cgroup, why = cgroups.available()
        limits = f"per-sandbox {why}" if cgroup else f"per-process rlimits only ({why})"
        typer.echo(f"local limits: {limits}")
        Console(width=max(120, Console().width)).print(guarantees.render(guarantees.table()))

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
