"""get_progress comes from persistence, across a restart and a crash; a source stays
undeletable while its clone runs.

The timing-sensitive cases are made deterministic by freezing the server's
qemu-storage-daemon (SIGSTOP): a flow then waits inside its group snapshot, the
first step that speaks QMP, right after the step that groups the sources.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import Env, Server

from . import disk


def test_progress_survives_a_restart(make_env) -> None:
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "pa")["id"]
    b = api.create_volume(1, "pb")["id"]
    task = api.clone([a, b], **{"display-name": "pr"})
    done = api.wait(task)
    assert done["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert done["progress"] == 100 and done["details"]["pending_tasks"] == {}
    assert set(done["details"]["results"]) == {a, b}

    srv.stop()
    srv.start()
    assert api.progress(task) == done
    # The restarted server did not run the finished flow again.
    assert {r[0] for r in srv.db_rows("SELECT id FROM volumes")} == {a, b, *done["details"]["results"].values()}
    disk.assert_pool_sane(srv)


@contextlib.contextmanager
def daemon_frozen(server: Server) -> Iterator[int]:
    """SIGSTOP the server's qemu-storage-daemon for the block (SIGCONT on the way out).

    Any flow step that talks QMP then waits (the driver's command timeout is 60 s),
    while the API's database-only paths keep answering.
    """
    pid = int((server.data_dir / "run" / "qsd.pid").read_text().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


def wait_for_running(api: Any, task: str, prefix: str) -> dict[str, Any]:
    """Poll get_progress until the step named ``prefix...`` is RUNNING; returns that progress."""
    deadline = time.monotonic() + 20
    while True:
        p = api.progress(task)
        if any(n.startswith(prefix) and s == "RUNNING" for n, s in p["details"]["pending_tasks"].items()):
            return p  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"{prefix}* never ran: {p}"
        time.sleep(0.01)


def test_a_source_being_cloned_cannot_be_deleted(make_env) -> None:
    """Deterministic: with the daemon stopped the flow cannot get past its group snapshot,
    so the source group made by the step before it is certainly there during the DELETE."""
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "ga")["id"]
    b = api.create_volume(1, "gb")["id"]
    disk.write(srv.active_file(a), 0x3C, 0, "64k")

    with daemon_frozen(srv):
        task = api.clone([a, b])
        wait_for_running(api, task, "create_group_snapshot-")
        assert srv.db_rows("SELECT id FROM volume_groups") == [(f"src_group-{task}",)]
        for vid in (a, b):
            r = api.request("DELETE", f"/volumes/{vid}")
            assert r.status_code == 400, r.text
            assert "being cloned" in r.json()["badRequest"]["message"]
            assert api.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
        # The refusals were made while the group certainly existed and the flow still ran.
        assert srv.db_rows("SELECT id FROM volume_groups") == [(f"src_group-{task}",)]
        assert api.progress(task)["flow_details"]["cloneFlow"] == "RUNNING"

    p = api.wait(task)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    clone = p["details"]["results"][a]
    disk.expect(srv.active_file(clone), (0x3C, 0, "64k"))
    # Once the clone has ended the group is gone and the source can be deleted.
    assert srv.db_rows("SELECT id FROM volume_groups") == []
    assert api.request("DELETE", f"/volumes/{a}").status_code == 202
    disk.expect(srv.active_file(clone), (0x3C, 0, "64k"))
    disk.assert_pool_sane(srv)


def test_a_clone_interrupted_by_a_crash_resumes_from_persistence(make_env) -> None:
    """The server is SIGKILLed while a flow waits inside its group snapshot; the next start
    resumes the flow from its persisted state and the clone completes with the right data."""
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "ca")["id"]
    b = api.create_volume(1, "cb")["id"]
    disk.write(srv.active_file(a), 0x4D, 0, "64k")
    disk.write(srv.active_file(b), 0x4E, "1M", "64k")
    sums = {v: disk.digest(srv.active_file(v)) for v in (a, b)}

    with daemon_frozen(srv) as old_daemon:
        task = api.clone([a, b])
        before = wait_for_running(api, task, "create_group_snapshot-")
        assert before["flow_details"]["cloneFlow"] == "RUNNING"
        assert {n.split("-")[0]: s for n, s in before["details"]["completed_tasks"].items()} == {
            "_TaskFlow_INJECTOR": "SUCCESS", "create_src_vol_group": "SUCCESS"}
        srv.stop(kill=True)
    try:
        srv.start()  # stops the daemon the killed server left behind, then resumes the flow
        p = api.wait(task)
    finally:
        with contextlib.suppress(OSError):  # only if the restart failed to stop it
            if str(srv.data_dir).encode() in Path(f"/proc/{old_daemon}/cmdline").read_bytes():
                os.kill(old_daemon, signal.SIGKILL)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    assert p["progress"] == 100
    for src, clone in p["details"]["results"].items():
        assert disk.digest(srv.active_file(clone)) == sums[src]
    disk.assert_pool_sane(srv)
