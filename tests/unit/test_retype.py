"""``os-retype`` through the API in process (routes, policy, faults) and the service below it, on
two memory backends: a type change on the same backend, a migration onto another one (data kept,
the old backend emptied), the refusals, and a migration killed half-way that the reaper finishes
or undoes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from volclone.api import create_app
from volclone.backends.memory import MemoryDriver
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES
from volclone.service.reaper import Reaper
from volclone.service.retype import Retyper

from .conftest import Fast
from .test_volume_actions import attach, fault


class Crash(BaseException):
    """A process killed mid-call (not an Exception: nothing in the service catches it)."""


class Two:
    def __init__(self, fast: Fast, client: TestClient) -> None:
        self.fast = fast
        self.client = client
        auth = fast.svc.auth
        self.member = auth.create_token("p1", MEMBER_ROLES)
        self.reader = auth.create_token("p1", READER_ROLES)
        self.admin = auth.create_token("admin", ADMIN_ROLES)
        self.local = fast.drivers["local"]
        self.other = fast.drivers["mem2"]
        types = fast.svc.types
        self.gold = types.create(fast.admin, "gold", extra_specs={"volume_backend_name": "local"})
        self.far = types.create(fast.admin, "far", extra_specs={"volume_backend_name": "mem2"})

    def retype(self, volume_id: str, new_type: str, policy: str | None = None, token: str | None = None) -> Any:
        body: dict[str, Any] = {"new_type": new_type}
        if policy is not None:
            body["migration_policy"] = policy
        return self.client.post(f"/v3/p1/volumes/{volume_id}/action", json={"os-retype": body},
                                headers={"X-Auth-Token": token or self.member})

    def show(self, volume_id: str, token: str | None = None) -> dict[str, Any]:
        r = self.client.get(f"/v3/p1/volumes/{volume_id}", headers={"X-Auth-Token": token or self.admin})
        assert r.status_code == 200, r.text
        return r.json()["volume"]  # type: ignore[no-any-return]


@pytest.fixture
def two(make_fast: Any) -> Iterator[Two]:
    fast: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    with TestClient(create_app(fast.svc, manage_lifecycle=False)) as client:
        yield Two(fast, client)


def test_same_backend_retype_changes_the_type_and_nothing_else(two: Two) -> None:
    vol = two.fast.volume(1, fill=b"s")
    digest = two.fast.digest(vol.id)
    r = two.retype(vol.id, "gold")
    assert r.status_code == 202 and r.content == b"", r.text
    shown = two.show(vol.id)
    assert shown["volume_type"] == "gold" and shown["status"] == "available"
    assert shown["migration_status"] is None  # no migration happened
    assert two.fast.get(vol.id).backend == "local" and two.fast.digest(vol.id) == digest
    assert two.other.state() == ([], [], [])
    # by id too, and of an in-use volume (no data moves)
    attach(two.fast, vol.id)
    default = two.fast.svc.types.default(two.fast.admin)
    assert two.retype(vol.id, default.id).status_code == 202
    assert two.show(vol.id)["volume_type"] == default.name and two.show(vol.id)["status"] == "in-use"


def test_cross_backend_retype_moves_the_data_and_keeps_the_id(two: Two) -> None:
    vol = two.fast.volume(2, fill=b"m", name="keep")
    digest = two.fast.digest(vol.id)
    r = two.retype(vol.id, "far", "on-demand")
    assert r.status_code == 202, r.text
    moved = two.fast.get(vol.id)
    assert (moved.backend, moved.volume_type_id, moved.status.value) == ("mem2", two.far.id, "available")
    assert moved.name == "keep" and moved.size == 2
    assert two.other.volume_exists(vol.id) and not two.local.volume_exists(vol.id)
    assert two.local.state() == ([], [], []), "the old backend's data and the snapshot are gone"
    assert two.fast.digest(vol.id) == digest
    admin_view = two.show(vol.id)
    assert admin_view["migration_status"] == "success" and admin_view["volume_type"] == "far"
    assert "migration_status" not in two.show(vol.id, two.member)  # admins only, as Cinder
    # and back again
    assert two.retype(vol.id, "gold", "on-demand").status_code == 202
    assert two.fast.get(vol.id).backend == "local" and two.fast.digest(vol.id) == digest
    assert two.other.state() == ([], [], [])


MIGSTAT = "os-vol-mig-status-attr:migstat"


def test_migration_status_through_a_move_is_cinders_and_migstat_shows_it(two: Two) -> None:
    vol = two.fast.volume(1, fill=b"w")
    seen: dict[str, dict[str, Any]] = {}
    # what an admin sees while the copy runs, and once the row names the new backend
    two.other.inject("import_volume", lambda: seen.setdefault("copying", two.show(vol.id)))
    two.local.inject("delete_volume", lambda: seen.setdefault("completing", two.show(vol.id)))
    before = two.show(vol.id)
    assert (before["migration_status"], before[MIGSTAT], before["os-vol-mig-status-attr:name_id"]) == (
        None, None, None)
    assert two.retype(vol.id, "far", "on-demand").status_code == 202
    copying, completing = seen["copying"], seen["completing"]
    assert (copying["status"], copying["migration_status"], copying[MIGSTAT]) == ("retyping", "migrating", "migrating")
    assert copying["os-vol-host-attr:host"].endswith("@local#local")
    assert (completing["migration_status"], completing[MIGSTAT]) == ("completing", "completing")
    assert completing["os-vol-host-attr:host"].endswith("@mem2#mem2")
    after = two.show(vol.id)
    assert (after["status"], after["migration_status"], after[MIGSTAT]) == ("available", "success", "success")
    assert after["os-vol-mig-status-attr:name_id"] is None  # the volume keeps its own id
    assert after["os-vol-host-attr:host"] != before["os-vol-host-attr:host"]
    assert MIGSTAT not in two.show(vol.id, two.member)  # the attribute rule is admins'


def test_a_failed_move_shows_error_in_migstat(two: Two) -> None:
    vol = two.fast.volume(1)
    two.other.inject("import_volume")
    assert two.retype(vol.id, "far", "on-demand").status_code == 500
    shown = two.show(vol.id)
    assert (shown["status"], shown["migration_status"], shown[MIGSTAT]) == ("available", "error", "error")
    assert shown["os-vol-host-attr:host"].endswith("@local#local")
    # a finished migration (error) lets the next retype start
    assert two.retype(vol.id, "far", "on-demand").status_code == 202
    assert two.show(vol.id)[MIGSTAT] == "success"


@pytest.mark.parametrize("policy", [None, "never"])
def test_cross_backend_retype_without_on_demand_is_refused(two: Two, policy: str | None) -> None:
    vol = two.fast.volume(1)
    fault(two.retype(vol.id, "far", policy), 400, "badRequest", "migration_policy on-demand", "mem2")
    assert two.fast.get(vol.id).volume_type_id == vol.volume_type_id and two.other.state() == ([], [], [])


def test_an_attached_volume_is_not_migrated(two: Two) -> None:
    vol = two.fast.volume(1)
    attach(two.fast, vol.id)
    fault(two.retype(vol.id, "far", "on-demand"), 400, "badRequest", "attached", "detach it first")
    assert two.fast.get(vol.id).status.value == "in-use" and two.other.state() == ([], [], [])


def test_a_volume_with_snapshots_is_not_migrated(two: Two) -> None:
    vol = two.fast.volume(1)
    snaps = two.fast.svc.snapshots
    assert snaps is not None
    snaps.create(two.fast.who, "p1", vol.id, name="s")
    fault(two.retype(vol.id, "far", "on-demand"), 400, "badRequest", "has snapshots")
    assert two.other.state() == ([], [], [])


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"new_type": "far", "migration_policy": "sometimes"}, 400, ("migration_policy",)),
    ({"migration_policy": "never"}, 400, ("new_type",)),
    ({"new_type": "nope"}, 404, ("nope",)),
    ({"new_type": "far", "extra": 1}, 400, ("extra",)),
])
def test_bad_retype_bodies_are_4xx(two: Two, body: dict[str, Any], status: int, words: tuple[str, ...]) -> None:
    vol = two.fast.volume(1)
    r = two.client.post(f"/v3/p1/volumes/{vol.id}/action", json={"os-retype": body},
                        headers={"X-Auth-Token": two.member})
    fault(r, status, "badRequest" if status == 400 else "itemNotFound", *words)
    assert two.fast.get(vol.id).volume_type_id == vol.volume_type_id


def test_retype_to_its_own_type_or_from_a_busy_status_is_refused(two: Two) -> None:
    vol = two.fast.volume(1)
    current = two.show(vol.id)["volume_type"]
    fault(two.retype(vol.id, current), 400, "badRequest", "different type")
    two.fast.set_status(vol.id, "error")
    fault(two.retype(vol.id, "gold"), 400, "badRequest", "must be available or in-use", "error")


def test_a_reader_may_not_retype(two: Two) -> None:
    vol = two.fast.volume(1)
    fault(two.retype(vol.id, "gold", token=two.reader), 403, "forbidden", "volume:retype")


@pytest.mark.parametrize("method", ["import_volume", "create_group_snapshot"])
def test_a_failed_migration_leaves_the_volume_where_it_was(two: Two, method: str) -> None:
    vol = two.fast.volume(1, fill=b"f")
    digest = two.fast.digest(vol.id)
    (two.other if method == "import_volume" else two.local).inject(method, after=True)
    r = two.retype(vol.id, "far", "on-demand")
    assert r.status_code == 500 and "injected fault" in r.text, r.text  # the backend's error, in Cinder's format
    back = two.fast.get(vol.id)
    assert (back.backend, back.volume_type_id, back.status.value, back.migration_status) == (
        "local", vol.volume_type_id, "available", "error")
    assert two.other.state() == ([], [], []) and two.fast.digest(vol.id) == digest
    assert two.local.state()[2] == [], "the migration's snapshot went"


def _reaper(fast: Fast) -> Reaper:
    vs = fast.svc.volumes
    assert vs.attachments is not None
    return Reaper(vs.repo, vs.backends, vs.attachments, served={"local", "mem2"}, stale_after_s=0)


@pytest.mark.parametrize("killed_in", ["import_volume", "delete_volume"])
def test_a_migration_killed_half_way_is_undone_or_finished_by_the_reaper(two: Two, killed_in: str) -> None:
    vol = two.fast.volume(1, fill=b"k")
    digest = two.fast.digest(vol.id)
    # killed while copying (before the row switched), or while removing the old data (after)
    (two.other if killed_in == "import_volume" else two.local).inject(killed_in, Crash("killed"))
    with pytest.raises(Crash):
        Retyper(two.fast.svc.volumes).retype(two.fast.who, "p1", vol.id, "far", "on-demand")
    assert two.fast.get(vol.id).status.value == "retyping"
    assert _reaper(two.fast).run_once() == 1
    done = two.fast.get(vol.id)
    assert done.status.value == "available"
    if killed_in == "import_volume":
        assert (done.backend, done.migration_status) == ("local", "error")
        assert two.other.state() == ([], [], [])
    else:
        assert (done.backend, done.migration_status, done.volume_type_id) == ("mem2", "success", two.far.id)
        assert two.local.state() == ([], [], [])
    assert two.fast.digest(vol.id) == digest
