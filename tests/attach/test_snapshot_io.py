"""Snapshots end to end on a real server (uvicorn, qemu-storage-daemon, the local pool): an attached
volume is snapshotted with force while a consumer writes it over NBD; a volume made from the
snapshot holds exactly the writes made before it; the volume is reverted to it (3.40) and reads
the same; the delete of a volume with snapshots is refused, and cascades."""

from __future__ import annotations

import threading

from api.support import unique

from .support import MV, Model, attach, block, detach, digest, offset_of, opened, uri_of

#: revert is served from 3.40.
MV_REVERT = {"OpenStack-API-Version": "volume 3.40"}


def test_snapshot_of_a_written_attached_volume_new_volume_and_revert(make_env):
    env = make_env()
    api = env.user
    vid = api.create_volume(1, name=unique("snap-io"))["id"]
    a = attach(api, vid, "rw")
    api.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)  # in-use
    written: list[int] = []
    started, stop = threading.Event(), threading.Event()
    with opened(uri_of(a)) as h:
        def writer() -> None:  # each write flushed before the next: the writes are ordered
            i = 0
            while not stop.is_set() and i < 4000:
                h.pwrite(block(i), offset_of(i))
                h.flush()
                written.append(i)
                i += 1
                if i == 20:
                    started.set()

        t = threading.Thread(target=writer)
        t.start()
        assert started.wait(60)
        refused = api.request("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})
        assert refused.status_code == 400 and "force" in refused.text
        snap = api.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "name": "live", "force": True}})
        snap = snap["snapshot"]
        stop.set()
        t.join(60)
        assert snap["status"] == "available" and len(written) > 20
        final = Model()
        for i in written:
            final.blocks[offset_of(i)] = block(i)
        assert digest(h) == final.digest(), "the volume keeps every write across the snapshot"
    detach(api, a["id"])
    # A volume from the snapshot: exactly a prefix of the ordered writes (crash-consistent), no torn block.
    made = api.ok("POST", "/volumes", json={"volume": {"snapshot_id": snap["id"]}})["volume"]
    assert made["snapshot_id"] == snap["id"] and made["size"] == 1
    m = attach(api, made["id"], "ro")
    with opened(uri_of(m)) as h:
        got = digest(h)
        frozen = [i for i in written if h.pread(len(block(i)), offset_of(i)) == block(i)]
    detach(api, m["id"])
    assert frozen == written[:len(frozen)] and len(frozen) >= 20
    prefix = Model()
    for i in frozen:
        prefix.blocks[offset_of(i)] = block(i)
    assert got == prefix.digest()
    # Revert: the volume reads what the snapshot froze again.
    r = api.request("POST", f"/volumes/{vid}/action", json={"revert": {"snapshot_id": snap["id"]}}, headers=MV_REVERT)
    assert r.status_code == 202, r.text
    assert api.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    v = attach(api, vid, "ro")
    with opened(uri_of(v)) as h:
        assert digest(h) == prefix.digest()
    detach(api, v["id"])
    # A volume with snapshots goes only with cascade; its snapshot goes with it.
    assert api.request("DELETE", f"/volumes/{vid}").status_code == 400
    assert api.request("DELETE", f"/volumes/{vid}", params={"cascade": "true"}).status_code == 202
    assert api.request("GET", f"/snapshots/{snap['id']}").status_code == 404
    assert api.request("GET", f"/volumes/{vid}").status_code == 404
    api.ok("DELETE", f"/volumes/{made['id']}")
    assert env.server.db_rows("SELECT id FROM snapshots") == []
    assert env.server.pool_files() == set(), "nothing is left in the pool"
