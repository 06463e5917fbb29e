"""A flow persisted with the clone spec's old shape (plain dicts, ``backend`` only when it is
not the sources') still resumes after the typed :class:`~volclone.flows.model.CloneSpec`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

from conftest import Env
from volclone.flows.model import Step

from . import disk
from .test_progress import daemon_frozen, wait_for_running


def to_old_shape(store: dict) -> dict:  # type: ignore[type-arg]
    old = {**store, "clones": [{k: v for k, v in c.items() if k != "backend"} for c in store["clones"]]}
    assert all("backend" not in c for c in old["clones"]) and store["clones"]
    return old


def test_a_flow_persisted_in_the_old_shape_resumes(make_env) -> None:
    e: Env = make_env()
    srv, api = e.server, e.user
    a = api.create_volume(1, "oa")["id"]
    disk.write(srv.active_file(a), 0x6B, 0, "64k")
    want = disk.digest(srv.active_file(a))

    with daemon_frozen(srv) as old_daemon:
        task = api.clone([a])
        wait_for_running(api, task, Step.CREATE_GROUP_SNAPSHOT.prefix)
        srv.stop(kill=True)
    # Rewrite what is persisted (the request and TaskFlow's store) as the old code wrote it.
    (request,) = srv.db_rows("SELECT request FROM clone_tasks WHERE id = ?", task)[0]
    srv.db_execute("UPDATE clone_tasks SET request = ? WHERE id = ?",
                   json.dumps(to_old_shape(json.loads(request))), task)
    rows = srv.db_rows("SELECT uuid, results FROM atomdetails WHERE name = '_TaskFlow_INJECTOR'")
    stores = [(u, json.loads(r)) for u, r in rows if r and task in r]
    assert len(stores) == 1, rows
    uuid, store = stores[0]
    srv.db_execute("UPDATE atomdetails SET results = ? WHERE uuid = ?", json.dumps(to_old_shape(store)), uuid)
    try:
        srv.start()  # resumes the flow from its (old-shape) persisted state
        p = api.wait(task)
    finally:
        with contextlib.suppress(OSError):  # only if the restart failed to stop it
            if str(srv.data_dir).encode() in Path(f"/proc/{old_daemon}/cmdline").read_bytes():
                os.kill(old_daemon, signal.SIGKILL)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    clone = p["details"]["results"][a]
    assert disk.digest(srv.active_file(clone)) == want
    assert api.ok("GET", f"/volumes/{clone}")["volume"]["status"] == "available"
    disk.assert_pool_sane(srv)
