"""Commands that act on the local data directory: serve, token, config."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click

from volclone.config import Settings

PREFIX_SETTING = "clone-name-prefix"


def settings_from(ctx: click.Context, **overrides: object) -> Settings:
    return Settings.from_env(data_dir=ctx.obj.get("data_dir"), **overrides)


@click.group()
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="VOLCLONE_DATA_DIR",
              help="Where the database and the storage pool live [env: VOLCLONE_DATA_DIR].")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """volclone: block storage with crash-consistent multi-volume clones."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir


@main.command()
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8776].")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the API server (and the storage daemon it drives) in the foreground."""
    import uvicorn

    from volclone import bootstrap
    from volclone.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from(ctx, host=host, port=port)
    svc = bootstrap.build(settings)
    # uvicorn turns SIGTERM/SIGINT into a clean shutdown, which stops the daemon too.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    click.echo(f"volclone serving http://{settings.host}:{settings.port} (data in {settings.data_dir})")
    uvicorn.run(create_app(svc), host=settings.host, port=settings.port, log_level="info")


@main.group()
def token() -> None:
    """Local API tokens."""


@token.command("create")
@click.option("--project", required=True, help="The project the token is scoped to.")
@click.option("--admin", is_flag=True, help="An admin token may act on any project.")
@click.pass_context
def token_create(ctx: click.Context, project: str, admin: bool) -> None:
    """Create a token; it is printed once, as the last line."""
    from volclone import bootstrap

    svc = bootstrap.build(settings_from(ctx), with_backends=False)
    tok = svc.auth.create_token(project, admin)
    click.echo(f"token for project {project}{' (admin)' if admin else ''}; it is not shown again:", err=True)
    click.echo(tok)


@main.group()
def config() -> None:
    """Runtime settings that apply without a restart."""


def _check_key(key: str) -> None:
    if key != PREFIX_SETTING:
        raise click.BadParameter(f"unknown setting {key!r}; known: {PREFIX_SETTING}")


@config.command("get")
@click.argument("key")
@click.pass_context
def config_get(ctx: click.Context, key: str) -> None:
    """Show a setting."""
    from volclone import bootstrap

    _check_key(key)
    click.echo(bootstrap.build(settings_from(ctx), with_backends=False).clones.prefix())


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_context
def config_set(ctx: click.Context, key: str, value: str) -> None:
    """Change a setting."""
    from volclone import bootstrap

    _check_key(key)
    if not value or any(c in value for c in "\n\r\t"):
        click.echo("the prefix must be a non-empty single line", err=True)
        sys.exit(2)
    bootstrap.build(settings_from(ctx), with_backends=False).clones.set_prefix(value)
    click.echo(f"{key} = {value}")
