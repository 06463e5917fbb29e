"""Cancelling a clone task through the real server: a full copy (clone_mode=full, a
``blockdev-backup`` job in the qemu-storage-daemon) cancelled while its bytes move stops,
and the flow reverts to REVERTED, leaving no volume, layer, file, daemon node or job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.support import assert_fault, unique
from conftest import Env, _start
from flows.disk import assert_pool_sane, digest, write
from volclone.errors import Cancelled

#: The source's data: enough that the copy takes seconds (about 1 GiB/s here), so the cancel
#: arrives while it runs.
DATA = ("512M", "512M")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[Path], str]) -> Iterator[Env]:
    """A server of this module's own (not the shared one): its checks look at the whole pool and
    daemon, which the shared server's other tests also use."""
    e = _start(tmp_path_factory.mktemp("volclone"), new_database=new_database)
    yield e
    e.server.close()


@pytest.fixture(scope="module")
def full_type(env: Env) -> str:
    body = {"volume_type": {"name": unique("full-cancel"), "extra_specs": {"clone_mode": "full"}}}
    return str(env.admin.ok("POST", "/types", json=body)["volume_type"]["id"])


def daemon_jobs(server: Any) -> list[dict[str, Any]]:
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(str(server.data_dir / "run" / "qsd.qmp"))
    qmp.settimeout(10)
    qmp.connect()
    try:
        return list(qmp.cmd("query-jobs"))
    finally:
        qmp.close()


def test_a_full_copy_cancelled_mid_copy_stops_and_leaves_nothing(env: Env, full_type: str) -> None:
    src = env.user.create_volume(2, unique("cx"), volume_type=full_type)["id"]
    write(env.server.active_file(src), 0x5A, 0, DATA[0])
    write(env.server.active_file(src), 0x5B, DATA[0], DATA[1])
    before = digest(env.server.active_file(src))
    volumes = env.server.db_rows("SELECT id FROM volumes ORDER BY id")

    task = env.user.clone([src])
    while True:  # until the copy has moved bytes, and not all of them
        p = env.user.progress(task)
        assert p["flow_details"]["cloneFlow"] == "RUNNING", p
        if p["details"].get("bytes_done"):
            break
    assert p["details"]["bytes_done"] < p["details"]["bytes_total"]
    assert [j["type"] for j in daemon_jobs(env.server)] == ["backup"]
    r = env.user.request("POST", f"/clone-volumes/{task}/action", json={"cancel": {}})
    assert r.status_code == 202 and r.content == b"", r.text

    p = env.user.wait(task)
    assert p["flow_details"]["cloneFlow"] == "REVERTED", p
    assert p["details"]["results"] == {"failure": Cancelled().message}
    assert p["details"]["bytes_done"] < p["details"]["bytes_total"], "the copy stopped before its end"
    assert daemon_jobs(env.server) == []
    assert env.server.db_rows("SELECT id FROM volumes ORDER BY id") == volumes
    assert_pool_sane(env.server)  # no layer, file, group snapshot, group or daemon node is left
    assert env.user.ok("GET", f"/volumes/{src}")["volume"]["status"] == "available"
    assert digest(env.server.active_file(src)) == before
    # ended: a second cancel is a 409
    assert_fault(env.user.request("POST", f"/clone-volumes/{task}/action", json={"cancel": {}}), 409,
                 "has ended (REVERTED)")
