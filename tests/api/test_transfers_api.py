"""Volume transfers on a real server and the local pool: p1 offers a volume with a snapshot, p2
accepts it with the auth key and owns the same image and the snapshot (it makes a volume of it);
the key is nowhere in the database; faults are OpenStack's."""

from __future__ import annotations

from api.support import assert_fault, unique
from conftest import Api, Env


def test_a_transfer_moves_a_volume_and_its_snapshot_between_projects(env: Env, other: Api) -> None:
    vid = env.user.create_volume(1, unique("xfer"))["id"]
    sid = env.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})["snapshot"]["id"]
    before = env.server.active_file(vid).stat().st_size
    t = env.user.ok("POST", "/os-volume-transfer", json={"transfer": {"volume_id": vid, "name": "x"}})["transfer"]
    key = t["auth_key"]
    rows = env.server.db_rows("SELECT salt, key_hash FROM volume_transfers WHERE id = ?", t["id"])
    assert rows and key not in repr(rows)
    assert_fault(other.request("POST", f"/os-volume-transfer/{t['id']}/accept",
                               json={"accept": {"auth_key": key[::-1] if key[::-1] != key else "0" * 16}}),
                 400, "invalid auth key")
    assert_fault(other.request("POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {}}), 400)
    assert_fault(env.user.request("DELETE", f"/volumes/{vid}"), 400)
    accepted = other.ok("POST", f"/os-volume-transfer/{t['id']}/accept", json={"accept": {"auth_key": key}})
    assert accepted["transfer"]["volume_id"] == vid
    assert other.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    assert other.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "available"
    assert_fault(env.user.request("GET", f"/volumes/{vid}"), 404)
    assert_fault(env.user.request("GET", f"/snapshots/{sid}"), 404)
    assert env.server.active_file(vid).stat().st_size == before  # the same image, only its owner changed
    made = other.create_volume(1, unique("from-moved"), snapshot_id=sid)["id"]
    other.ok("DELETE", f"/volumes/{made}")
    other.ok("DELETE", f"/volumes/{vid}", params={"cascade": "true"})
