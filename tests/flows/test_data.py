"""What a clone holds: its source's bytes at clone time, and from then on its own life.

All on the shared server; each test looks only at its own volumes' files.
"""

from __future__ import annotations

from typing import Any

from conftest import Env

from . import disk

GIB = 1024**3


def clone_one(api: Any, source: str) -> str:
    p = api.wait(api.clone([source]))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    return str(p["details"]["results"][source])


def delete(api: Any, vid: str) -> None:
    r = api.request("DELETE", f"/volumes/{vid}")
    assert r.status_code == 202, r.text


def test_clone_holds_the_source_data_and_then_both_sides_are_independent(env: Env) -> None:
    srv, api = env.server, env.user
    src = api.create_volume(1, "d-src")["id"]
    disk.write(srv.active_file(src), 0x31, 0, "64k")
    disk.write(srv.active_file(src), 0x32, "1M", "192k")
    disk.write(srv.active_file(src), 0x33, "1023M", "64k")  # the last MiB of the volume
    before = disk.digest(srv.active_file(src))

    clone = clone_one(api, src)
    assert disk.digest(srv.active_file(clone)) == before
    disk.expect(srv.active_file(clone), (0x31, 0, "64k"), (0x32, "1M", "192k"), (0x33, "1023M", "64k"))

    # Writes after the clone, to either side, stay on that side.
    disk.write(srv.active_file(src), 0x41, 0, "64k")         # overwrite shared data on the source
    disk.write(srv.active_file(src), 0x42, "4M", "64k")      # new data on the source
    disk.write(srv.active_file(clone), 0x51, "1M", "64k")    # overwrite shared data on the clone
    disk.write(srv.active_file(clone), 0x52, "5M", "64k")    # new data on the clone
    disk.expect(srv.active_file(src), (0x41, 0, "64k"), (0x32, "1M", "192k"), (0x42, "4M", "64k"),
                (0, "5M", "64k"), (0x33, "1023M", "64k"))
    disk.expect(srv.active_file(clone), (0x31, 0, "64k"), (0x51, "1M", "64k"), (0x32, "1088k", "128k"),
                (0, "4M", "64k"), (0x52, "5M", "64k"), (0x33, "1023M", "64k"))

    # A second clone sees the source as it is now, not as it was at the first clone.
    now = disk.digest(srv.active_file(src))
    assert now != before
    clone2 = clone_one(api, src)
    assert disk.digest(srv.active_file(clone2)) == now
    for vid in (clone, clone2, src):
        delete(api, vid)


def test_deleting_the_source_keeps_its_clones(env: Env) -> None:
    srv, api = env.server, env.user
    src = api.create_volume(1, "d-src2")["id"]
    disk.write(srv.active_file(src), 0x61, 0, "128k")
    c1 = clone_one(api, src)
    disk.write(srv.active_file(src), 0x62, "2M", "64k")
    c2 = clone_one(api, src)
    disk.write(srv.active_file(c1), 0x63, "3M", "64k")
    sums = {c: disk.digest(srv.active_file(c)) for c in (c1, c2)}
    src_files = disk.chain_files(srv, src)

    delete(api, src)
    assert not src_files[0].exists(), "the source's own top layer goes with it"
    for c in (c1, c2):
        assert disk.digest(srv.active_file(c)) == sums[c]
    disk.expect(srv.active_file(c1), (0x61, 0, "128k"), (0, "2M", "64k"), (0x63, "3M", "64k"))
    disk.expect(srv.active_file(c2), (0x61, 0, "128k"), (0x62, "2M", "64k"), (0, "3M", "64k"))

    # Clones keep working as volumes: written, cloned, deleted.
    disk.write(srv.active_file(c2), 0x64, 0, "64k")
    c3 = clone_one(api, c2)
    disk.expect(srv.active_file(c3), (0x64, 0, "64k"), (0x61, "64k", "64k"), (0x62, "2M", "64k"))
    for vid in (c1, c2, c3):
        delete(api, vid)


def test_deleting_a_clone_keeps_the_source(env: Env) -> None:
    srv, api = env.server, env.user
    src = api.create_volume(1, "d-src3")["id"]
    disk.write(srv.active_file(src), 0x71, 0, "64k")
    clone = clone_one(api, src)
    disk.write(srv.active_file(clone), 0x72, 0, "64k")
    disk.write(srv.active_file(src), 0x73, "1M", "64k")
    before = disk.digest(srv.active_file(src))

    delete(api, clone)
    assert disk.digest(srv.active_file(src)) == before
    disk.expect(srv.active_file(src), (0x71, 0, "64k"), (0x73, "1M", "64k"))
    # With its clone gone the source is one file again (its frozen layer was folded back).
    assert len(disk.chain_files(srv, src)) == 1
    delete(api, src)


def test_a_clone_of_a_clone_survives_deleting_the_middle_one(env: Env) -> None:
    srv, api = env.server, env.user
    a = api.create_volume(1, "d-a")["id"]
    disk.write(srv.active_file(a), 0x81, 0, "64k")
    b = clone_one(api, a)
    disk.write(srv.active_file(b), 0x82, "1M", "64k")
    c = clone_one(api, b)
    disk.write(srv.active_file(c), 0x83, "2M", "64k")
    disk.write(srv.active_file(b), 0x84, 0, "64k")  # after c was made: c must not see it
    sums = {v: disk.digest(srv.active_file(v)) for v in (a, c)}

    delete(api, b)
    assert {v: disk.digest(srv.active_file(v)) for v in (a, c)} == sums
    disk.expect(srv.active_file(c), (0x81, 0, "64k"), (0x82, "1M", "64k"), (0x83, "2M", "64k"))
    disk.expect(srv.active_file(a), (0x81, 0, "64k"), (0, "1M", "64k"), (0, "2M", "64k"))

    delete(api, a)
    assert disk.digest(srv.active_file(c)) == sums[c]
    delete(api, c)


def test_a_100_gib_volume_clones_instantly_and_stays_thin(env: Env) -> None:
    srv, api = env.server, env.user
    big = api.create_volume(100, "d-big")["id"]
    disk.write(srv.active_file(big), 0x91, 0, "64k")
    disk.write(srv.active_file(big), 0x92, "99G", "64k")
    clone = clone_one(api, big)

    assert api.ok("GET", f"/volumes/{clone}")["volume"]["size"] == 100
    assert disk.info(srv.active_file(clone))["virtual-size"] == 100 * GIB
    disk.expect(srv.active_file(clone), (0x91, 0, "64k"), (0x92, "99G", "64k"), (0, "50G", "64k"))
    assert disk.digest(srv.active_file(clone)) == disk.digest(srv.active_file(big))
    files = set(disk.chain_files(srv, big) + disk.chain_files(srv, clone))
    assert len(files) == 3  # the frozen layer they share and one top each
    for f in files:
        assert f.stat().st_blocks * 512 < 8 * 1024**2, f"{f.name} takes {f.stat().st_blocks * 512} bytes"
    delete(api, clone)
    delete(api, big)


def test_a_source_is_one_file_again_when_its_clones_are_gone(env: Env) -> None:
    """Clones deleted oldest first: the frozen layers fold back into the source one by one."""
    srv, api = env.server, env.user
    src = api.create_volume(1, "d-fold")["id"]
    disk.write(srv.active_file(src), 0xA1, 0, "64k")
    c1 = clone_one(api, src)
    disk.write(srv.active_file(src), 0xA2, "1M", "64k")
    c2 = clone_one(api, src)
    disk.write(srv.active_file(src), 0xA3, "2M", "64k")
    before = disk.digest(srv.active_file(src))
    assert len(disk.chain_files(srv, src)) == 3

    delete(api, c1)
    disk.expect(srv.active_file(c2), (0xA1, 0, "64k"), (0xA2, "1M", "64k"), (0, "2M", "64k"))
    delete(api, c2)
    assert disk.digest(srv.active_file(src)) == before
    assert len(disk.chain_files(srv, src)) == 1, "no frozen layer is left under the source"
    delete(api, src)
