"""Commands that act on volclone's own state: db, token, config, backend; and policy.

They all use the database ``VOLCLONE_DATABASE_URL`` names (SQLite in the data directory when it
is unset); one that cannot be reached is a one-line error and exit status 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from volclone.cli.params import KeyValue
from volclone.config import Settings
from volclone.errors import DatabaseUnavailable

PREFIX_SETTING = "clone-name-prefix"


class _Main(click.Group):
    """The command group; a database that cannot be reached is one line on stderr, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DatabaseUnavailable as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(1)


def settings_from(ctx: click.Context, **overrides: object) -> Settings:
    try:
        return Settings.from_env(None, data_dir=ctx.obj.get("data_dir"), **overrides)
    except ValueError as exc:  # a setting that makes no sense: say which, without a traceback
        raise click.ClickException(str(exc)) from exc


@click.group(cls=_Main)
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="VOLCLONE_DATA_DIR",
              help="Where the database and the storage pool live [env: VOLCLONE_DATA_DIR].")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """volclone: block storage with crash-consistent multi-volume clones."""
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir


@main.group()
def db() -> None:
    """The database (VOLCLONE_DATABASE_URL; default: SQLite in the data directory)."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the database to the newest schema (volclone's tables and TaskFlow's); prints the
    revision it ends at. `serve` does the same at every start."""
    from volclone import bootstrap
    from volclone.db.database import head_revision, shown

    settings = settings_from(ctx)
    revision = bootstrap.upgrade_database(settings)
    head = " (head)" if revision == head_revision() else ""
    click.echo(f"{shown(settings.db_url)}: at revision {revision}{head}")


@db.command("check")
@click.pass_context
def db_check(ctx: click.Context) -> None:
    """Compare the database's schema with volclone's models, like `alembic check`; exit status 1
    and the differences if they differ."""
    from volclone.db.database import check_reachable, make_engine, schema_drift, shown

    settings = settings_from(ctx)
    engine = make_engine(settings.db_url, 1)
    try:
        check_reachable(engine)
        drift = schema_drift(engine)
    finally:
        engine.dispose()
    if drift:
        for diff in drift:
            click.echo(f"differs: {diff}")
        sys.exit(1)
    click.echo(f"{shown(settings.db_url)}: the schema matches the models")


@main.group()
def token() -> None:
    """Local API tokens."""


@token.command("create")
@click.option("--project", required=True, help="The project the token is scoped to.")
@click.option("--admin", is_flag=True, help="An admin token (roles admin, member, reader) acts on any project.")
@click.option("--reader", is_flag=True, help="A reader token (role reader) only reads its project.")
@click.option("--user-id", default=None, help="The user the token stands for, recorded as the user_id of what it "
              "creates (default: a new user id of its own).")
@click.pass_context
def token_create(ctx: click.Context, project: str, admin: bool, reader: bool, user_id: str | None) -> None:
    """Create a token; it is printed once, as the last line.

    Without --admin or --reader it is a member token (roles member, reader): it reads and
    writes its own project. What each role may do is the policy's (volclone policy defaults).
    Give several tokens the same --user-id to have them act as one user.
    """
    from volclone import bootstrap
    from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES

    if admin and reader:
        raise click.UsageError("--admin and --reader exclude each other")
    if user_id is not None and not (0 < len(user_id.strip()) == len(user_id) <= 255):
        raise click.BadParameter("a user id is 1 to 255 characters, no leading or trailing blanks",
                                 param_hint="--user-id")
    roles, kind = (ADMIN_ROLES, "admin") if admin else (READER_ROLES, "reader") if reader else (MEMBER_ROLES,
                                                                                                  "member")
    svc = bootstrap.build(settings_from(ctx), with_backends=False)
    tok = svc.auth.create_token(project, roles, user_id)
    click.echo(f"token for project {project} ({kind}: {', '.join(sorted(roles))}); it is not shown again:",
               err=True)
    click.echo(tok)


@main.group()
def policy() -> None:
    """The policy: which role may do what (override rules in VOLCLONE_POLICY_FILE)."""


@policy.command("defaults")
def policy_defaults() -> None:
    """Print every rule with its default check string and description, as a policy.yaml to start from."""
    from volclone.service.policy import defaults_yaml

    click.echo(defaults_yaml(), nl=False)


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


@main.group()
def backend() -> None:
    """Storage backends besides the built-in local pool.

    A running server picks a new backend up at its next start; a volume type whose
    volume_backend_name is the backend's name puts its volumes there.
    """


@backend.command("add")
@click.argument("name")
@click.option("--driver", required=True, help="The backend's driver, e.g. rbd (Ceph RBD).")
@click.option("--option", "-o", "options", type=KeyValue(), multiple=True,
              help="A driver option; repeat for more. rbd: conf=PATH (the cluster's ceph.conf), pool=POOL, "
                   "user=ID (the Ceph client id without 'client.'; default admin).")
@click.option("--no-check", is_flag=True, help="Add it without starting its driver (connecting) first.")
@click.pass_context
def backend_add(ctx: click.Context, name: str, driver: str, options: tuple[tuple[str, str], ...],
                no_check: bool) -> None:
    """Add backend NAME; it is checked by starting its driver once (rbd: connect and open the pool).

        volclone backend add ceph --driver rbd -o conf=/etc/ceph/ceph.conf -o pool=volumes -o user=volclone
    """
    from volclone import bootstrap
    from volclone.errors import VolcloneError

    admin = bootstrap.backend_admin(settings_from(ctx))
    given = dict(options)
    if len(given) != len(options):
        click.echo("Error: an option is given twice", err=True)
        sys.exit(2)
    try:
        added = admin.add(name, driver, dict(given), check=not no_check)
    except VolcloneError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"backend {added.name} added ({added.driver}: {_describe(added.options)}); "
               "a running server uses it after its next start")


@backend.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def backend_list(ctx: click.Context, as_json: bool) -> None:
    """The backends: the built-in local pool, then the ones added."""
    from volclone import bootstrap

    settings = settings_from(ctx)
    rows: list[dict[str, Any]] = [
        {"name": bootstrap.LOCAL, "driver": "local", "options": {"pool": str(settings.pool_dir)}}]
    rows += [{"name": b.name, "driver": b.driver, "options": b.options}
             for b in bootstrap.backend_admin(settings).list()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['driver']:<6}  {_describe(r['options'])}")


def _describe(options: Mapping[str, object]) -> str:
    return " ".join(f"{k}={v}" for k, v in options.items())
