"""QoS specs enforced on the local pool, against the shared server's real qemu-storage-daemon: a
volume of an associated type is exported through a throttle filter whose group holds the spec's
limits (read back over the daemon's QMP socket), a change of the spec reaches the group live, a
snapshot under the running export keeps the filter serving the new active layer, and the detach
removes filter and group. (Rates are measured in bench/qos_throttle.py, not asserted here.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from api.support import unique
from volclone.backends.local.throttle import filter_node

from .support import opened

LIMITS = {"total_iops_sec": "400", "read_bytes_sec": "8388608", "write_bytes_sec": "4194304",
          "read_bytes_sec_max": "16777216"}


@contextmanager
def qmp(server: Any) -> Iterator[Any]:
    from qemu.qmp.legacy import QEMUMonitorProtocol

    q = QEMUMonitorProtocol(str(server.data_dir / "run" / "qsd.qmp"))
    q.settimeout(10)
    q.connect()
    try:
        yield q
    finally:
        q.close()


def daemon_view(server: Any, volume_id: str) -> dict[str, Any]:
    """What the daemon serves for the volume: the export's node, that node's driver and the file
    it reads (the active layer's), and its throttle group's limits (None without one)."""
    with qmp(server) as q:
        export = next((e for e in q.cmd("query-block-exports") if e["id"].endswith(f"-{volume_id}")), None)
        nodes = {n["node-name"]: n for n in q.cmd("query-named-block-nodes", flat=True)}
        try:
            limits = q.cmd("qom-get", path=f"qos-{volume_id}", property="limits")
        except Exception:  # no such object
            limits = None
    node = nodes.get(export["node-name"]) if export else None
    return {"node": export and export["node-name"], "driver": node and node["drv"],
            "reads": node and node["image"]["filename"], "limits": limits}


@pytest.fixture
def gold(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("gold")}})["volume_type"]
    q = env.admin.ok("POST", "/qos-specs", json={"qos_specs": {"name": unique("q"), **LIMITS}})["qos_specs"]
    assert env.admin.request("GET", f"/qos-specs/{q['id']}/associate",
                             params={"vol_type_id": t["id"]}).status_code == 202
    yield t, q
    env.admin.request("DELETE", f"/qos-specs/{q['id']}", params={"force": "true"})


def test_an_attached_volume_of_a_qos_type_is_throttled_live(env, gold):
    vtype, q = gold
    vol = env.user.create_volume(1, unique("qos"), volume_type=vtype["name"])
    action = f"/volumes/{vol['id']}/action"
    info = env.user.ok("POST", action, json={"os-initialize_connection": {"connector": {"host": "h1"}}})
    uri = info["connection_info"]["data"]["uri"]
    try:
        seen = daemon_view(env.server, vol["id"])
        assert seen["node"] == filter_node(vol["id"]) and seen["driver"] == "throttle"
        assert (seen["limits"]["iops-total"], seen["limits"]["bps-read"], seen["limits"]["bps-write"],
                seen["limits"]["bps-read-max"], seen["limits"]["iops-read"]) == (400, 8388608, 4194304, 16777216, 0)
        with opened(uri) as h:  # it serves the volume's data through the filter
            h.pwrite(b"q" * 65536, 0)
            assert h.pread(65536, 0) == b"q" * 65536

        # A change of the spec reaches the running group; the export stays as it was.
        r = env.admin.request("PUT", f"/qos-specs/{q['id']}", json={"qos_specs": {"total_iops_sec": "900"}})
        assert r.status_code == 200 and r.json() == {"qos_specs": {"total_iops_sec": "900"}}
        assert daemon_view(env.server, vol["id"])["limits"]["iops-total"] == 900
        r = env.admin.request("PUT", f"/qos-specs/{q['id']}/delete_keys", json={"keys": ["write_bytes_sec"]})
        assert r.status_code == 202
        assert daemon_view(env.server, vol["id"])["limits"]["bps-write"] == 0

        # A snapshot under the running export: the filter now reads the new active layer.
        assert env.user.request("POST", f"/volumes/{vol['id']}/action",
                                json={"os-attach": {"mountpoint": "/dev/vdb"}}).status_code == 202
        before = daemon_view(env.server, vol["id"])["reads"]
        env.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vol["id"], "force": True}})
        after = daemon_view(env.server, vol["id"])
        assert after["node"] == filter_node(vol["id"]) and after["reads"] != before
        with opened(uri) as h:
            assert h.pread(65536, 0) == b"q" * 65536

        # Disassociated: the group limits nothing from now on.
        assert env.admin.request("GET", f"/qos-specs/{q['id']}/disassociate",
                                 params={"vol_type_id": vtype["id"]}).status_code == 202
        assert not any(daemon_view(env.server, vol["id"])["limits"][k] for k in ("iops-total", "bps-read"))
    finally:
        assert env.user.request("POST", action, json={"os-detach": {}}).status_code == 202
    assert daemon_view(env.server, vol["id"]) == {"node": None, "driver": None, "reads": None, "limits": None}
