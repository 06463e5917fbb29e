"""HTTP client commands (``volume``, ``type``, ``clone``), registered on the ``volclone`` group.

    volclone volume create --size 1 --name db --metadata tier=gold
    volclone volume list --json
    volclone volume attach VOL --mode ro     # prints the nbd:// URI to read (and write) it at
    volclone volume detach ATTACHMENT_ID
    volclone type create fast --property volume_backend_name=local      # admin token
    volclone clone VOL1 VOL2 --name demo      # live progress, then a source -> clone table
    volclone clone status TASK_ID
    volclone clone watch TASK_ID              # follow a running task's events, with the same bar
    volclone clone cancel TASK_ID             # stops it; it reverts, leaving nothing
    volclone clone revert TASK_ID             # the sources get the clones' data back, in place

Every command takes ``--url`` / ``--token`` / ``--project`` (or VOLCLONE_URL,
OS_AUTH_TOKEN, OS_PROJECT_ID) and ``--json``. A failed request prints
``Error (HTTP 404 itemNotFound): message`` on stderr and exits with 1.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Concatenate, ParamSpec

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from volclone.cli.admin import main
from volclone.cli.params import KeyValue
from volclone.cli.plans import plan_table
from volclone.client import CLONE_ACTION, DEFAULT_URL, REVERT_ACTION, Client, ClientError, Event, flow_state

P = ParamSpec("P")

#: Wide enough that ids never wrap when output goes to a pipe (rich assumes 80 columns there).
PIPE_WIDTH = 200


# -- plumbing shared by every client command ----------------------------------
class ApiError(click.ClickException):
    """A :class:`ClientError` as the CLI shows it: ``Error (HTTP 404 itemNotFound): ...``, exit 1."""

    def __init__(self, error: ClientError) -> None:
        super().__init__(error.message)
        self.error = error

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(error_line(self.error), err=True)


def error_line(error: ClientError) -> str:
    """``Error (HTTP 404 itemNotFound): message``, or ``Error: message`` without an HTTP answer."""
    if error.status is None:
        return f"Error: {error.message}"
    return f"Error (HTTP {error.status} {error.fault}): {error.message}"


def make_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


@dataclass
class Session:
    """What a client command works with: the API client and how to print."""

    client: Client
    as_json: bool
    console: Console = field(default_factory=make_console)

    def emit_json(self, data: object) -> None:
        click.echo(json.dumps(data, indent=2))


def client_command(func: Callable[Concatenate[Session, P], None]) -> Callable[P, None]:
    """Give a command the client options and call it with a ready :class:`Session`.

        @volume.command("show")
        @click.argument("volume_id")
        @client_command
        def volume_show(session: Session, volume_id: str) -> None: ...
    """

    @click.option("--url", envvar="VOLCLONE_URL", default=DEFAULT_URL, metavar="URL", show_default=True,
                  show_envvar=True, help="The volclone API endpoint.")
    @click.option("--token", envvar="OS_AUTH_TOKEN", show_envvar=True, metavar="TOKEN",
                  help="API token (see `volclone token`).")
    @click.option("--project", envvar="OS_PROJECT_ID", show_envvar=True, metavar="ID",
                  help="The project to act in.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (for scripts).")
    @functools.wraps(func)
    def run(url: str, token: str | None, project: str | None, as_json: bool, *args: P.args,
            **kwargs: P.kwargs) -> None:
        if not project:
            raise click.UsageError("no project: pass --project or set OS_PROJECT_ID")
        try:
            with Client(url, token, project) as client:
                func(Session(client, as_json), *args, **kwargs)
        except ClientError as exc:
            raise ApiError(exc) from exc

    return run  # type: ignore[return-value]  # click fills url/token/project/as_json


# -- rendering ------------------------------------------------------------------
def cell(value: object) -> Text:
    """A table cell; user data is plain text, never rich markup."""
    if value is None:
        return Text("")
    if isinstance(value, Mapping):
        return Text(", ".join(f"{k}={v}" for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return Text(", ".join(str(v) for v in value))
    return Text(str(value))


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> Table:
    out = Table(title=title, title_justify="left")
    for name in columns:
        out.add_column(name, no_wrap=name.endswith("ID"), overflow="fold")
    for row in rows:
        out.add_row(*(cell(v) for v in row))
    return out


def record_table(record: Mapping[str, Any], skip: Iterable[str] = ("links",)) -> Table:
    """One record as Field | Value rows, in the server's order."""
    hidden = set(skip)
    return table(["Field", "Value"], [(k, v) for k, v in record.items() if k not in hidden])


def show_record(session: Session, record: Mapping[str, Any]) -> None:
    if session.as_json:
        session.emit_json(record)
    else:
        session.console.print(record_table(record))


# -- volume -----------------------------------------------------------------------
@main.group()
def volume() -> None:
    """Volumes: create, list, show, delete."""


@volume.command("create")
@click.option("--size", type=click.IntRange(min=1), required=True, help="Size in GiB.")
@click.option("--name", help="Volume name.")
@click.option("--description", help="Volume description.")
@click.option("--type", "volume_type", metavar="TYPE", help="Volume type, by name or id.")
@click.option("--metadata", type=KeyValue(), multiple=True, help="Metadata item; repeat for more.")
@client_command
def volume_create(session: Session, size: int, name: str | None, description: str | None,
                  volume_type: str | None, metadata: tuple[tuple[str, str], ...]) -> None:
    """Create a volume.

    \b
        volclone volume create --size 1 --name db --metadata tier=gold
    """
    show_record(session, session.client.create_volume(size, name, description, volume_type, dict(metadata)))


@volume.command("list")
@client_command
def volume_list(session: Session) -> None:
    """List the project's volumes."""
    vols = session.client.list_volumes(detail=True)
    if session.as_json:
        session.emit_json(vols)
        return
    rows = [(v["id"], v.get("name"), v.get("status"), v.get("size"), v.get("volume_type")) for v in vols]
    session.console.print(table(["ID", "Name", "Status", "Size", "Type"], rows))


@volume.command("show")
@click.argument("volume_id", metavar="ID")
@client_command
def volume_show(session: Session, volume_id: str) -> None:
    """Show one volume."""
    show_record(session, session.client.get_volume(volume_id))


@volume.command("delete")
@click.argument("volume_ids", metavar="ID...", nargs=-1, required=True)
@client_command
def volume_delete(session: Session, volume_ids: tuple[str, ...]) -> None:
    """Delete volumes; tries every one and exits with 1 if any could not be deleted.

    \b
        volclone volume delete 0b3c... 9f1e...
    """
    deleted: list[str] = []
    failed: dict[str, str] = {}
    for vid in volume_ids:
        try:
            session.client.delete_volume(vid)
        except ClientError as exc:
            if exc.status is None:  # the server is unreachable: the rest would fail alike
                raise
            failed[vid] = str(exc)
            click.echo(error_line(exc), err=True)
        else:
            deleted.append(vid)
            if not session.as_json:
                click.echo(f"Deleted volume {vid}")
    if session.as_json:
        session.emit_json({"deleted": deleted, "failed": failed})
    if failed:
        raise click.exceptions.Exit(1)


@volume.command("attach")
@click.argument("volume_id", metavar="ID")
@click.option("--mode", type=click.Choice(["rw", "ro"]), default="rw", show_default=True,
              help="Read-write (exclusive) or read-only (shared).")
@click.option("--instance", metavar="UUID", help="Who uses the volume (Cinder's instance_uuid).")
@client_command
def volume_attach(session: Session, volume_id: str, mode: str, instance: str | None) -> None:
    """Attach a volume; prints the NBD URI it is served at (the attachment id goes to stderr).

    \b
        volclone volume attach VOL --mode ro
        qemu-io -f raw -r "$(volclone volume attach VOL --mode ro)" -c 'read 0 64k'
    """
    attachment = session.client.attach(volume_id, mode, instance)
    if session.as_json:
        session.emit_json(attachment)
        return
    click.echo(f"Attachment {attachment['id']} ({attachment['attach_mode']}); "
               f"detach with: volclone volume detach {attachment['id']}", err=True)
    click.echo(attachment["connection_info"]["data"]["uri"])


@volume.command("detach")
@click.argument("attachment_id", metavar="ATTACHMENT_ID")
@client_command
def volume_detach(session: Session, attachment_id: str) -> None:
    """Detach: end an attachment (the volume is available again once none is left)."""
    left = session.client.detach(attachment_id)
    if session.as_json:
        session.emit_json({"detached": attachment_id, "attachments": left})
    else:
        click.echo(f"Detached attachment {attachment_id}")


@volume.command("flatten")
@click.argument("volume_id", metavar="VOL")
@client_command
def volume_flatten(session: Session, volume_id: str) -> None:
    """Make a clone independent of its source's layers now (also done in the background)."""
    session.client.flatten(volume_id)
    if session.as_json:
        session.emit_json({"flattened": volume_id})
    else:
        click.echo(f"Flattened volume {volume_id}")


# -- type ---------------------------------------------------------------------------
@main.group("type")
def type_group() -> None:
    """Volume types: create (admin), list."""


@type_group.command("create")
@click.argument("name")
@click.option("--description", help="Type description.")
@click.option("--property", "properties", type=KeyValue(), multiple=True,
              help="Extra spec, e.g. volume_backend_name=local; repeat for more.")
@click.option("--private", is_flag=True, help="Make the type private (default: public).")
@client_command
def type_create(session: Session, name: str, description: str | None,
                properties: tuple[tuple[str, str], ...], private: bool) -> None:
    """Create a volume type (needs an admin token).

    \b
        volclone type create fast --property volume_backend_name=local
    """
    show_record(session, session.client.create_type(name, description, dict(properties), is_public=not private))


@type_group.command("list")
@client_command
def type_list(session: Session) -> None:
    """List volume types."""
    types = session.client.list_types()
    if session.as_json:
        session.emit_json(types)
        return
    rows = [(t["id"], t["name"], t.get("description"), t.get("is_public"), t.get("extra_specs")) for t in types]
    session.console.print(table(["ID", "Name", "Description", "Public", "Properties"], rows))


# -- clone ----------------------------------------------------------------------------
class ActionContext(click.Context):
    #: The arguments of ``clone VOL...`` (``None`` when a subcommand was named).
    action_args: list[str] | None = None


class ActionGroup(click.Group):
    """A group that is also a command: ``clone VOL...`` runs ``action``, ``clone status ID`` the subcommand.

    click has no default subcommand, and positional arguments on a group would
    swallow the subcommand's name, so this routes on the first argument: a
    subcommand's name goes to the group as usual, anything else (options and
    ``--help`` included) to ``action``, under the group's own name.
    """

    context_class = ActionContext

    def __init__(self, *args: Any, action: click.Command, **kwargs: Any) -> None:
        kwargs["help"] = action.help  # `volclone --help` describes the action
        super().__init__(*args, **kwargs)
        self.action = action

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        assert isinstance(ctx, ActionContext)
        ctx.action_args = list(args)
        return []

    def invoke(self, ctx: click.Context) -> Any:
        assert isinstance(ctx, ActionContext)
        if ctx.action_args is None:
            return super().invoke(ctx)
        with self.action.make_context(ctx.info_name, ctx.action_args, parent=ctx.parent) as sub_ctx:
            return self.action.invoke(sub_ctx)


def running_steps(progress: Mapping[str, Any]) -> str:
    """What a clone task is doing now: its running steps' names (``reverting x`` while it reverts)."""
    pending = progress.get("pending_tasks") or progress.get("details", {}).get("pending_tasks") or {}
    names = [name if state == "RUNNING" else f"{state.lower()} {name}"
             for name, state in pending.items() if state in ("RUNNING", "REVERTING")]
    return ", ".join(names)


def copy_line(p: Mapping[str, Any]) -> str:
    """Bytes copied, the rate and the time left, as the server measured them (while data is copied)."""
    d = p.get("details") or {}
    if "bytes_total" not in d or flow_state(p) != "RUNNING":
        return ""
    line = f", {_size(d['bytes_done'])} of {_size(d['bytes_total'])}"
    if "bytes_per_second" in d:
        line += f" at {_size(d['bytes_per_second'])}/s, {d['eta_seconds']:.0f} s left"
    return line


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def wait_with_bar(session: Session, task_id: str, count: int | None, doing: str = "Cloning",
                  action: str = CLONE_ACTION) -> dict[str, Any]:
    """Follow the clone task's (or, with ``action``, a task of that kind's) events (polling a
    server without them), with a live bar on stderr naming the step that runs and, while data
    is copied, the bytes, rate and time left."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=make_console(stderr=True)) as bar:
        what = f"{doing} {count} volume{'s' if count != 1 else ''}" if count is not None else f"Task {task_id}"
        bar_id = bar.add_task(what, total=100)

        def update(p: dict[str, Any]) -> None:
            steps = running_steps(p) or flow_state(p).lower()
            bar.update(bar_id, completed=p.get("progress", 0), description=f"{what}: {steps}{copy_line(p)}")

        return session.client.watch(task_id, on_progress=update, action=action)


def in_source_order(sources: Sequence[str], results: Mapping[str, str]) -> dict[str, str]:
    """``results`` (source id -> clone id) ordered as the sources were given."""
    order = [s for s in sources if s in results] + [s for s in results if s not in sources]
    return {s: results[s] for s in order}


def clone_table(results: Mapping[str, str], names: Mapping[str, str | None] | None = None,
                title: str | None = None) -> Table:
    """Source -> clone rows; with ``names`` (clone id -> name) a clone name column too."""
    if names is None:
        return table(["Source ID", "→", "Clone ID"], [(s, "→", c) for s, c in results.items()], title)
    return table(["Source ID", "→", "Clone ID", "Clone name"],
                 [(s, "→", c, names.get(c)) for s, c in results.items()], title)


FOLLOW_HINT = ("\b\nFollow a clone task (e.g. one started with --no-wait):\n    volclone clone watch TASK_ID\n"
               "    volclone clone status TASK_ID")


@click.command("clone", epilog=FOLLOW_HINT)
@click.argument("volumes", metavar="VOL...", nargs=-1, required=True)
@click.option("--name", help="Display name: one clone is named clone-NAME, several clone-NAME-1, -2, ...")
@click.option("--description", help="Description of the clone (single-volume clones).")
@click.option("--type", "target_type", metavar="TYPE", help="Volume type of the clones, by name or id.")
@click.option("--no-wait", is_flag=True, help="Print the task id and return at once.")
@click.option("--dry-run", is_flag=True, help="Check the request and print what it would make, and how; make nothing.")
@click.option("--idempotency-key", metavar="KEY",
              help="Send the request with this Idempotency-Key: the same key and volumes within 24 h get the "
                   "first request's task, never a second set (default: a new key, kept across this command's "
                   "own retries).")
@client_command
def clone_volumes(session: Session, volumes: tuple[str, ...], name: str | None, description: str | None,
                  target_type: str | None, no_wait: bool, dry_run: bool, idempotency_key: str | None) -> None:
    """Clone volumes consistently (one point in time for all of them).

    \b
        volclone clone VOL1 VOL2 --name demo
        volclone clone VOL1 VOL2 --name demo --dry-run    # the plan: names, methods, bytes, time

    Shows live progress, then a table of source -> clone. If the clone fails
    and is reverted, prints why and exits with 1.
    """
    if dry_run:
        plan = session.client.plan_clone(list(volumes), name, description, target_type)
        if session.as_json:
            session.emit_json({"plan": plan})
        else:
            session.console.print(plan_table(plan))
        return
    task_id = session.client.clone(list(volumes), name, description, target_type, idempotency_key=idempotency_key)
    if no_wait:
        if session.as_json:
            session.emit_json({"task_id": task_id})
        else:
            click.echo(task_id)
        return
    try:
        final = session.client.watch(task_id) if session.as_json else wait_with_bar(session, task_id, len(volumes))
    except KeyboardInterrupt:
        click.echo(f"\nInterrupted; the clone goes on. Follow it with: volclone clone watch {task_id}\n"
                   f"or stop it (it reverts, leaving nothing) with: volclone clone cancel {task_id}", err=True)
        raise click.exceptions.Exit(130) from None
    report_clone(session, task_id, volumes, final)


def report_clone(session: Session, task_id: str, sources: Sequence[str], final: Mapping[str, Any]) -> None:
    """Print the clones (with their names) of a finished task, or fail with the task's failure message."""
    state = flow_state(final)
    results: dict[str, str] = dict(final.get("details", {}).get("results") or {})
    if state != "SUCCESS":
        if session.as_json:
            session.emit_json({"task_id": task_id, "state": state, "results": results})
        failure = results.get("failure", "no reason given")
        raise click.ClickException(f"clone task {task_id} ended {state}: {failure}")
    results = in_source_order(sources, results)
    names = {c: session.client.get_volume(c).get("name") for c in results.values()}
    if session.as_json:
        clones = [{"source_id": s, "clone_id": c, "clone_name": names[c]} for s, c in results.items()]
        session.emit_json({"task_id": task_id, "state": state, "results": results, "clones": clones})
    else:
        session.console.print(clone_table(results, names, title=f"Clone task {task_id}: {state}"))


@main.group("clone", cls=ActionGroup, action=clone_volumes)
def clone_group() -> None:
    """Never runs without a subcommand: ActionGroup hands ``clone VOL...`` to ``clone_volumes``."""


@clone_group.command("show")
@click.argument("task_id")
@client_command
def clone_show(session: Session, task_id: str) -> None:
    """Show the set a clone task made: each clone with its source, the source's attachments at
    the consistency point, and how consistent the set is.

    \b
        volclone clone show 84a0bb4d-4644-40b0-b45a-00d2d0d75b2a
    """
    p = session.client.progress(task_id)
    details = p.get("details", {})
    entries: list[dict[str, Any]] = details.get("manifest") or []
    if session.as_json:
        session.emit_json({"task_id": task_id, "state": flow_state(p), "manifest": entries,
                           "consistency": details.get("consistency")})
        return
    if not entries:
        raise click.ClickException(f"clone task {task_id} is {flow_state(p)}: it has no set to show "
                                   "(a manifest is there once a task succeeded)")
    rows = [(e["source_id"], "→", e["clone_id"], e["name"], e["size"], "yes" if e["bootable"] else "no",
             ", ".join(f"{a.get('instance_uuid') or '-'} ({a['attach_mode']}"
                       + (f", #{a['attach_order']}" if a.get("attach_order") else "") + ")"
                       for a in e["attachments"]) or "-")
            for e in entries]
    session.console.print(table(["Source ID", "→", "Clone ID", "Name", "GiB", "Bootable", "Attached to (mode, order)"],
                                rows, title=f"Clone task {task_id}"))
    c = details.get("consistency") or {}
    if c:
        freeze = f", I/O paused {c['io_freeze_ms']} ms" if "io_freeze_ms" in c else ""
        session.console.print(f"{c.get('level')} by {c.get('method')} at {c.get('taken_at')}{freeze}",
                              markup=False)


@clone_group.command("watch")
@click.argument("task_id")
@client_command
def clone_watch(session: Session, task_id: str) -> None:
    """Follow a clone task until it ends, from its event stream: a live bar (bytes, rate and time
    left while data is copied), then its clones. Exits with 1 if it did not succeed.

    With --json, each event is one line of JSON ({"event", "id", "data"}), the last one ``end``
    with the final get_progress body.

    \b
        volclone clone watch 84a0bb4d-4644-40b0-b45a-00d2d0d75b2a
    """
    try:
        if session.as_json:
            ended: list[Event] = []

            def emit(event: Event) -> None:
                click.echo(json.dumps({"event": event.name, "id": event.id, "data": event.data}))
                ended.extend([event] if event.name == "end" else [])

            final = session.client.watch(task_id, on_event=emit)
            if not ended:  # followed by polling: the end is the last body polled
                emit(Event("end", final, None))
        else:
            final = wait_with_bar(session, task_id, None)
    except KeyboardInterrupt:
        click.echo(f"\nInterrupted; the clone goes on. Follow it with: volclone clone watch {task_id}", err=True)
        raise click.exceptions.Exit(130) from None
    if session.as_json:
        if flow_state(final) != "SUCCESS":
            raise click.exceptions.Exit(1)
        return
    manifest = final.get("details", {}).get("manifest") or []
    report_clone(session, task_id, [e["source_id"] for e in manifest], final)


@clone_group.command("cancel")
@click.argument("task_id")
@click.option("--wait", "wait_end", is_flag=True, help="Wait until the task has reverted, and show how it ended.")
@client_command
def clone_cancel(session: Session, task_id: str, wait_end: bool) -> None:
    """Cancel a clone task: it stops (a copy in progress within a second) and reverts, leaving
    nothing behind. A task that has ended, or is reverting already, can't be cancelled.

    \b
        volclone clone cancel 84a0bb4d-4644-40b0-b45a-00d2d0d75b2a --wait
    """
    session.client.cancel(task_id)
    if not wait_end:
        if session.as_json:
            session.emit_json({"task_id": task_id, "cancel": "requested"})
        else:
            click.echo(f"Cancel of clone task {task_id} requested; follow it with: volclone clone status {task_id}")
        return
    final = session.client.wait(task_id)
    state = flow_state(final)
    failure = (final.get("details", {}).get("results") or {}).get("failure")
    if session.as_json:
        session.emit_json({"task_id": task_id, "state": state, "failure": failure})
    else:
        late = " (the cancel came after its last step: the clones are whole and kept)" if state == "SUCCESS" else ""
        click.echo(f"Clone task {task_id} ended {state}" + (f": {failure}" if failure else late))
    if state == "FAILURE":  # its revert left something behind (retried until gone)
        raise click.exceptions.Exit(1)


@clone_group.command("revert")
@click.argument("task_id")
@click.option("--no-wait", is_flag=True, help="Print the revert's task id and return at once.")
@client_command
def clone_revert(session: Session, task_id: str, no_wait: bool) -> None:
    """Put the sources of clone task TASK_ID back to its clones' data, in place.

    \b
        volclone clone revert 84a0bb4d-4644-40b0-b45a-00d2d0d75b2a

    The sources must be detached and their size unchanged; all of them get their clones' data
    as of one point in time. A failure at any step leaves them as they were (exit status 1).
    """
    revert_id = session.client.revert(task_id)
    if no_wait:
        if session.as_json:
            session.emit_json({"task_id": revert_id})
        else:
            click.echo(revert_id)
        return
    if session.as_json:
        final = session.client.wait(revert_id, action=REVERT_ACTION)
    else:
        final = wait_with_bar(session, revert_id, len(session.client.progress(task_id)["details"]["results"]),
                              "Reverting", REVERT_ACTION)
    state = flow_state(final)
    results: dict[str, str] = dict(final.get("details", {}).get("results") or {})
    if session.as_json:
        session.emit_json({"task_id": revert_id, "state": state, "results": results})
    if state != "SUCCESS":
        raise click.ClickException(f"revert task {revert_id} ended {state}: "
                                   f"{results.get('failure', 'no reason given')}; the sources are as they were")
    if not session.as_json:
        rows = [(source, "←", clone) for source, clone in results.items()]
        session.console.print(table(["Source", "", "Has the data of clone"], rows,
                                    title=f"Revert task {revert_id}: {state}"))


@clone_group.command("status")
@click.argument("task_id")
@client_command
def clone_status(session: Session, task_id: str) -> None:
    """Show a clone task's (or a revert's) progress, steps and results.

    \b
        volclone clone status 84a0bb4d-4644-40b0-b45a-00d2d0d75b2a
    """
    try:
        p = session.client.progress(task_id)
    except ClientError as exc:  # not a clone's task: a revert's, perhaps
        if exc.status != 404:
            raise
        try:
            p = session.client.progress(task_id, REVERT_ACTION)
        except ClientError as again:
            raise (exc if again.status == 404 else again) from None
    if session.as_json:
        session.emit_json(p)
        return
    details = p.get("details", {})
    state = flow_state(p)
    session.console.print(f"Task {task_id}: {state}, {p.get('progress', 0)}%", markup=False)
    steps = [(name, st) for group in ("completed_tasks", "pending_tasks")
             for name, st in (details.get(group) or p.get(group) or {}).items() if not name.startswith("_TaskFlow")]
    session.console.print(table(["Step", "State"], steps))
    results: dict[str, str] = details.get("results") or {}
    if "failure" in results:
        session.console.print(f"Failure: {results['failure']}", markup=False)
    elif results:
        session.console.print(clone_table(results))
