"""`agents sandbox ...`: inspect the sandbox backends and remove orphaned containers."""

from __future__ import annotations

import os
from typing import Any

import typer


def register(cli: Any) -> None:
    group = typer.Typer(help="Sandboxes: Docker and local backends.", no_args_is_help=True)
    cli.app.add_typer(group, name="sandbox")

    @group.command()
    def status() -> None:
        """Which backends work here, and which images are built."""
        from sandboxes import docker_available, engine, images
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

    @group.command()
    def gc(
        everything: bool = typer.Option(
            False, "--all", help="Also remove containers whose owner still runs."
        ),
    ) -> None:
        """Remove sandbox containers left behind by crashed or killed runs."""
        from sandboxes import engine

        removed = engine.remove_orphans(everything=everything)
        typer.echo(
            f"removed {len(removed)} container(s)" + (": " + ", ".join(removed) if removed else "")
        )
