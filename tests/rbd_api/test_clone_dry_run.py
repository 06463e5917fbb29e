"""A dry run on the RBD backend: the plan's method, bytes and consistency come from the Ceph
cluster, and nothing appears in the pool (no image, snapshot, group or RADOS object) nor in the
database. The logic and the refusals: tests/unit/test_clone_dry_run.py."""

from __future__ import annotations

from typing import Any

from .conftest import MIB, RbdEnv, pattern
from .test_clones import watch

ROWS = ("volumes", "clone_tasks", "volume_groups", "logbooks", "reservations", "clone_idempotency_keys")


def test_a_dry_run_asks_ceph_and_makes_nothing_there(rbd_env: RbdEnv) -> None:
    e, srv = rbd_env, rbd_env.server
    a = e.user.create_volume(1, "dra", volume_type=e.ceph_type)["id"]
    b = e.user.create_volume(2, "drb", volume_type=e.ceph_type)["id"]
    e.write(a, 0, pattern(0x61, 20 * MIB))
    e.write(b, 512 * MIB, pattern(0x62, 8 * MIB))
    e.write(b, 1000 * MIB, pattern(0x63, 64 * 1024))
    body: dict[str, Any] = {"clone-volumes": {"volumes": [a, b], "display-name": "drp"}}
    cross = {"clone-volumes": {**body["clone-volumes"], "target-volume-type-id": e.local_type}}

    def state() -> dict[str, Any]:
        return {"ceph": e.listing(), **{t: srv.db_rows(f"SELECT * FROM {t}") for t in ROWS},
                "pool": srv.pool_files()}

    before = state()
    same = e.user.ok("POST", "/clone-volumes?dry_run=true", json=body)["clone-volumes"]["plan"]
    there = e.user.ok("POST", "/clone-volumes?dry_run=true", json=cross)["clone-volumes"]["plan"]
    assert state() == before, "a dry run made something"

    assert (same["backend"], same["consistency_method"]) == ("ceph", "rbd-group-snapshot")
    methods = {c["method"] for c in same["clones"]}
    assert methods in ({"rbd-cow"}, {"rbd-deep-copy"}), same  # as this Ceph clones (COW from Ceph 19)
    assert [(c["name"], c["backend"], c["volume_type"]["name"]) for c in same["clones"]] == [
        ("clone-drp-1", "ceph", "ceph"), ("clone-drp-2", "ceph", "ceph")]
    # what Ceph says each image holds (whole 4 MiB objects where the fast-diff map is valid)
    held = [c["bytes_to_copy"] for c in there["clones"]]
    assert 20 * MIB <= held[0] <= 20 * MIB + 4 * MIB and 8 * MIB + 64 * 1024 <= held[1] <= 16 * MIB, held
    assert [c["bytes_to_copy"] for c in same["clones"]] == (held if methods == {"rbd-deep-copy"} else [0, 0])
    assert [(c["method"], c["backend"], c["consistency_method"]) for c in there["clones"]] == [
        ("cross-backend-copy", "local", "rbd-group-snapshot")] * 2
    assert there["totals"]["bytes_to_copy"] == sum(held)

    # The real copy moves exactly the bytes the plan said.
    p, _ = watch(e, e.user.clone([a, b], **{"target-volume-type-id": e.local_type}))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    assert p["details"]["bytes_total"] == sum(held)
    e.delete(*p["details"]["results"].values(), a, b)
