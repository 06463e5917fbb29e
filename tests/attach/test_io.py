"""Real I/O through attachments: a consumer reads and writes the volume over NBD."""

from __future__ import annotations

import nbd
import pytest

from api.support import unique

from .support import MV, Model, attach, block, detach, digest, offset_of, opened, unreachable, uri_of


@pytest.fixture
def vol(env):
    v = env.user.create_volume(1, name=unique("io"))
    yield v
    for a in env.user.ok("GET", "/attachments", params={"volume_id": v["id"]}, headers=MV)["attachments"]:
        detach(env.user, a["id"])
    env.user.ok("DELETE", f"/volumes/{v['id']}")


def test_a_read_write_attachment_reads_back_what_it_wrote(env, vol):
    a = attach(env.user, vol["id"], "rw")
    model = Model()
    with opened(uri_of(a)) as h:
        assert h.get_size() == 1024**3 and not h.is_read_only()
        assert digest(h) == model.digest(), "a new volume reads as zeros"
        for i in range(8):
            model.write(h, offset_of(i), block(i))
        assert h.pread(len(block(3)), offset_of(3)) == block(3)
        assert digest(h) == model.digest()
    with opened(uri_of(a)) as h:  # a new connection sees the same data
        assert digest(h) == model.digest()


def test_a_read_only_attachment_refuses_writes(env, vol):
    rw = attach(env.user, vol["id"], "rw")
    model = Model()
    with opened(uri_of(rw)) as h:
        model.write(h, 0, block(1))
    detach(env.user, rw["id"])

    ro = attach(env.user, vol["id"], "ro")
    assert ro["connection_info"]["data"]["access_mode"] == "ro"
    with opened(uri_of(ro)) as h:
        assert h.is_read_only()
        with pytest.raises(nbd.Error):
            h.pwrite(block(2), 0)
        assert digest(h) == model.digest(), "the refused write changed nothing"


def test_a_clone_of_an_attached_volume_holds_what_was_flushed_before_it(env, vol):
    a = attach(env.user, vol["id"], "rw")
    env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)
    before = Model()
    with opened(uri_of(a)) as h:
        for i in range(6):
            before.write(h, offset_of(i), block(100 + i))
        task = env.user.clone([vol["id"]])  # in-use, connected, between writes
        final = env.user.wait(task)
        assert final["flow_details"]["cloneFlow"] == "SUCCESS", final
        clone_id = final["details"]["results"][vol["id"]]
        after = before.copy()
        after.write(h, offset_of(0), block(200))  # overwrite a block the clone holds
        after.write(h, offset_of(50), block(201))
        assert digest(h) == after.digest(), "the source keeps its writes across the snapshot"
    try:
        c = attach(env.user, clone_id, "ro")
        with opened(uri_of(c)) as h:
            assert digest(h) == before.digest(), "the clone is the source as flushed before the clone"
        detach(env.user, c["id"])
    finally:
        env.user.ok("DELETE", f"/volumes/{clone_id}")
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["status"] == "in-use"


def test_detach_ends_the_export_and_the_volume_can_go(env):
    v = env.user.create_volume(1, name=unique("io"))
    a = attach(env.user, v["id"], "rw")
    with opened(uri_of(a)) as h:
        Model().write(h, 0, block(7))
    detach(env.user, a["id"])
    assert env.user.ok("GET", f"/volumes/{v['id']}")["volume"]["status"] == "available"
    assert unreachable(uri_of(a))
    env.user.ok("DELETE", f"/volumes/{v['id']}")


def test_a_connected_consumer_is_cut_off_by_detach(env, vol):
    a = attach(env.user, vol["id"], "rw")
    with opened(uri_of(a)) as h:
        Model().write(h, 0, block(8))
        detach(env.user, a["id"])
        with pytest.raises(nbd.Error):
            h.pread(512, 0)
