"""The commands that run volclone: ``serve`` (all in one process), and the scale-out roles
``api`` (stateless HTTP, any number of them) and ``worker`` (runs its backends' drivers and
does their work). docs/deploy.md shows them on three hosts; ``scripts/cluster-dev`` on one.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from volclone.cli.admin import main, settings_from
from volclone.config import Settings
from volclone.errors import VolcloneError

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Seconds an idle client connection stays open. uvicorn's default (5 s) equals httpx's pool
#: expiry, and urllib3 (requests, keystoneauth, the OpenStack clients) never expires its pool: a
#: client reusing a connection the server is closing at that instant loses its request (seen as
#: resets under load). Longer than the clients' and a load balancer's usual idle timeout (60 s),
#: as nginx's 75 s.
KEEP_ALIVE_S = 75


def _build(settings: Settings, role: object) -> object:
    from volclone import bootstrap

    try:
        return bootstrap.build(settings, role=role)  # type: ignore[arg-type]
    except VolcloneError as exc:  # e.g. a policy file that is missing or not YAML
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)


def _serve_http(settings: Settings, role: str) -> None:
    import uvicorn

    from volclone.api import create_app
    from volclone.api.event_stream import StreamOptions
    from volclone.service import Service

    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    svc = _build(settings, role)
    assert isinstance(svc, Service)
    # uvicorn turns SIGTERM/SIGINT into a clean shutdown, which stops the service (and its daemon) too.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    where = f"data in {settings.data_dir}" if role == "serve" else "flows run in the workers"
    click.echo(f"volclone {role} serving http://{settings.host}:{settings.port} ({where})")
    from volclone.api.versions import parse

    # (TESTS ONLY: the real-server tests of features gated past the maximum microversion.)
    top = parse(settings.unsafe_test_max_microversion) if settings.unsafe_test_max_microversion else None
    app = create_app(svc, max_request_bytes=settings.max_request_bytes,
                     event_streams=StreamOptions.from_settings(settings), max_version=top)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", timeout_keep_alive=KEEP_ALIVE_S)


def _cluster_settings(ctx: click.Context, **overrides: object) -> Settings:
    settings = settings_from(ctx, **overrides)
    try:
        settings.check_cluster()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


@main.command()
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8776].")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the API server (and the storage daemon it drives) in the foreground."""
    _serve_http(settings_from(ctx, host=host, port=port), "serve")


@main.command()
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [default: 8776].")
@click.pass_context
def api(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run a stateless API process: it posts clone flows to the job board and calls the workers
    for everything a backend does; it never opens a backend. Run any number of them."""
    _serve_http(_cluster_settings(ctx, host=host, port=port), "api")


@main.command()
@click.option("--name", required=True, help="This worker's name (unique in the cluster).")
@click.option("--backend", "backends", multiple=True, required=True, metavar="NAME",
              help="A backend this worker serves; repeat for more. The local pool is `local`.")
@click.pass_context
def worker(ctx: click.Context, name: str, backends: tuple[str, ...]) -> None:
    """Run a volume worker in the foreground: it serves the named backends' calls and claims
    their clone flows. A local pool has one worker (on its host); an RBD backend any number."""
    from volclone.bootstrap import Worker
    from volclone.service import Service

    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    settings = _cluster_settings(ctx)
    svc = _build(settings, Worker(name, tuple(dict.fromkeys(backends))))
    assert isinstance(svc, Service)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        svc.start()
    except VolcloneError as exc:  # e.g. the local pool has its worker already
        click.echo(f"Error: {exc.message}", err=True)
        svc.stop()
        sys.exit(1)
    click.echo(f"volclone worker {name} serves {', '.join(backends)}")
    try:
        done.wait()
    finally:
        svc.stop()
        click.echo(f"volclone worker {name} stopped")
