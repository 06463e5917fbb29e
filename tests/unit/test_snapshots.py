"""Cinder's snapshots through the API in process (a TestClient on the fast service: routes, policy,
fault format, bodies) and the service below it, on the memory driver: create (``force`` for in-use
volumes), lists with filters, sort and paging, show, update, delete, metadata, os-reset_status,
os-force_delete, quotas, a volume's delete refused or cascading, volumes made from snapshots, and
``revert`` (3.40) to the latest snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plain import PlainDriver
from volclone.api import versions
from volclone.backends.memory import MemoryDriver
from volclone.domain import Principal

from .conftest import Fast
from .http import Http
from .test_volume_actions import attach, fault

GIB = 1024**3
BLOCK = 64 * 1024
#: Tempest's snapshot schemas (tempest/lib/api_schema/response/volume/snapshots.py): exactly these keys.
SUMMARY_KEYS = {"id", "name", "description", "volume_id", "status", "size", "metadata", "created_at", "updated_at"}
EXTENDED_KEYS = SUMMARY_KEYS | {"os-extended-snapshot-attributes:progress",
                                "os-extended-snapshot-attributes:project_id"}


class SnapshotHttp(Http):
    def snap(self, volume_id: str, **fields: Any) -> dict[str, Any]:
        return self.ok("POST", "/snapshots", {"snapshot": {"volume_id": volume_id, **fields}},  # type: ignore[no-any-return]
                       status=202)["snapshot"]

    def revert(self, volume_id: str, snapshot_id: str, version: str = "3.40", token: str | None = None
               ) -> httpx.Response:
        return self.call("POST", f"/volumes/{volume_id}/action", {"revert": {"snapshot_id": snapshot_id}},
                         token=token, version=version)


@pytest.fixture
def http(fast: Fast) -> Iterator[SnapshotHttp]:
    with SnapshotHttp.serving(fast) as client:
        yield client


@pytest.fixture
def at_3_40() -> None:
    """The server serves 3.40 (revert): its maximum is past it."""
    assert versions.MAX_VERSION >= (3, 40)


def snapshot_rows(fast: Fast) -> list[tuple[Any, ...]]:
    return fast.db_rows("SELECT id, status FROM snapshots ORDER BY id")


# -- create -----------------------------------------------------------------------------------
def test_a_snapshot_of_an_available_volume_in_cinders_shape(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(2, fill=b"s")
    snap = http.snap(vol.id, name="before", description="a point in time", metadata={"k": "v"})
    assert set(snap) == SUMMARY_KEYS
    assert (snap["volume_id"], snap["size"], snap["status"], snap["name"], snap["metadata"]) == \
        (vol.id, 2, "available", "before", {"k": "v"})
    assert fast.mem.snapshot_exists(snap["id"], vol.id)
    # The volume goes on taking writes; the snapshot keeps what it froze.
    fast.mem.write(vol.id, 0, b"x" * BLOCK)
    clone = fast.svc.volumes.create(fast.who, "p1", None, snapshot_id=snap["id"])
    assert fast.mem.read(clone.id, 0, BLOCK) == b"s" * BLOCK
    # 3.14 adds group_snapshot_id, in every shape.
    shown = http.ok("GET", f"/snapshots/{snap['id']}", version="3.14")["snapshot"]
    assert set(shown) == EXTENDED_KEYS | {"group_snapshot_id"} and shown["group_snapshot_id"] is None


def test_display_names_are_taken_too(http: SnapshotHttp) -> None:
    vol = http.fast.volume(1)
    snap = http.snap(vol.id, display_name="old-name", display_description="old-desc")
    assert (snap["name"], snap["description"]) == ("old-name", "old-desc")


@pytest.mark.parametrize("force", [None, False, "false", "0"])
def test_an_in_use_volume_needs_force(http: SnapshotHttp, force: Any) -> None:
    fast = http.fast
    vol = fast.volume(1)
    attach(fast, vol.id)
    body: dict[str, Any] = {"volume_id": vol.id} | ({} if force is None else {"force": force})
    with fast.creates_nothing():
        fault(http.call("POST", "/snapshots", {"snapshot": body}), 400, "badRequest", "in-use", "force")
    assert snapshot_rows(fast) == []


@pytest.mark.parametrize("force", [True, "true", "True", "1", "yes"])
def test_force_snapshots_an_in_use_volume(http: SnapshotHttp, force: Any) -> None:
    fast = http.fast
    vol = fast.volume(1)
    attach(fast, vol.id)
    snap = http.snap(vol.id, force=force)
    assert snap["status"] == "available" and fast.get(vol.id).status.value == "in-use"


@pytest.mark.parametrize("status", ["error", "creating", "deleting", "extending", "reserved", "maintenance"])
def test_other_volume_statuses_take_no_snapshot_even_with_force(http: SnapshotHttp, status: str) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.set_status(vol.id, status)
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": vol.id, "force": True}}), 400, "badRequest",
          status)
    assert snapshot_rows(fast) == []


@pytest.mark.parametrize("body", [
    {"volume_id": "V", "name": "n" * 256}, {"volume_id": "V", "description": "d" * 256},
    {"volume_id": "V", "display_name": "n" * 256}, {"volume_id": "V", "force": "maybe"},
    {"volume_id": "V", "force": 2}, {"volume_id": "V", "name": 5}, {"volume_id": "V", "x": 1},
    {"volume_id": "V", "metadata": {"k": "v" * 256}}, {"volume_id": "V", "metadata": "k=v"},
    {"name": "no volume"}, {"volume_id": 7},
])
def test_bodies_that_are_not_valid_are_400s_and_make_nothing(http: SnapshotHttp, body: dict[str, Any]) -> None:
    vol = http.fast.volume(1)
    body = {k: (vol.id if v == "V" else v) for k, v in body.items()}
    fault(http.call("POST", "/snapshots", {"snapshot": body}), 400, "badRequest")
    assert snapshot_rows(http.fast) == []


def test_names_and_descriptions_of_255_characters_are_kept(http: SnapshotHttp) -> None:
    vol = http.fast.volume(1)
    snap = http.snap(vol.id, name="n" * 255, description="d" * 255)
    assert (len(snap["name"]), len(snap["description"])) == (255, 255)


def test_a_volume_of_another_project_or_none_is_a_404(http: SnapshotHttp) -> None:
    vol = http.fast.volume(1, project="p2")
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": vol.id}}), 404, "itemNotFound")
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": "nope"}}), 404, "itemNotFound")
    assert snapshot_rows(http.fast) == []


def test_a_failed_backend_snapshot_leaves_nothing(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    before = fast.mem.state()
    fast.mem.inject("create_snapshot")
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": vol.id}}), 500, "computeFault")
    assert snapshot_rows(fast) == [] and fast.mem.state() == before


def test_a_backend_that_cannot_snapshot_says_so(make_fast: Any) -> None:
    fast = make_fast(drivers={"local": MemoryDriver("local"), "plain": PlainDriver("plain")})
    fast.svc.types.create(fast.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    vol = fast.volume(1, volume_type="plain")
    with pytest.raises(Exception, match="cannot snapshot") as caught:
        fast.svc.snapshots.create(fast.who, "p1", vol.id)
    assert getattr(caught.value, "status", None) == 400
    assert fast.db_rows("SELECT id FROM snapshots") == []


# -- quotas -------------------------------------------------------------------------------------
def test_snapshots_count_in_the_snapshots_and_gigabytes_quotas(make_fast: Any) -> None:
    fast = make_fast(quota_volumes=10, quota_gigabytes=5, quota_snapshots=2)
    vol = fast.volume(2)
    snaps = fast.svc.snapshots
    snaps.create(fast.who, "p1", vol.id)
    usage = fast.svc.quotas.show_usage(fast.admin, "p1", "p1")
    assert (usage["snapshots"].in_use, usage["gigabytes"].in_use) == (1, 4)
    with pytest.raises(Exception, match="VolumeSizeExceedsAvailableQuota") as caught:
        snaps.create(fast.who, "p1", vol.id)  # 2 more GiB: 6 of 5
    assert getattr(caught.value, "status", None) == 413
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"gigabytes": -1})
    snaps.create(fast.who, "p1", vol.id)
    with pytest.raises(Exception, match="SnapshotLimitExceeded"):
        snaps.create(fast.who, "p1", vol.id)
    assert len(fast.db_rows("SELECT id FROM snapshots")) == 2
    limits = fast.svc.quotas.absolute_limits(fast.who, "p1")
    assert (limits["totalSnapshotsUsed"], limits["maxTotalSnapshots"]) == (2, 2)


# -- lists, show, update ---------------------------------------------------------------------------
@pytest.mark.usefixtures("at_3_40")
def test_lists_filter_sort_and_page_as_cinder(http: SnapshotHttp) -> None:
    fast = http.fast
    a, b = fast.volume(1), fast.volume(1)
    made = [http.snap(a.id, name="alpha", metadata={"tier": "gold"}), http.snap(a.id, name="beta"),
            http.snap(b.id, name="gamma")]
    fast.svc.snapshots.create(Principal("p2"), "p2", fast.volume(1, project="p2").id, name="theirs")
    listed = http.ok("GET", "/snapshots")["snapshots"]
    assert [s["name"] for s in listed] == ["gamma", "beta", "alpha"]  # newest first
    assert all(set(s) == SUMMARY_KEYS for s in listed)
    detail = http.ok("GET", "/snapshots/detail")["snapshots"]
    assert all(set(s) == EXTENDED_KEYS for s in detail)
    assert {s["os-extended-snapshot-attributes:project_id"] for s in detail} == {"p1"}
    assert {s["os-extended-snapshot-attributes:progress"] for s in detail} == {"100%"}

    def names(query: str, **kw: Any) -> list[str]:
        return [s["name"] for s in http.ok("GET", f"/snapshots?{query}", **kw)["snapshots"]]

    assert names(f"volume_id={a.id}") == ["beta", "alpha"]
    assert names("name=gamma") == ["gamma"]
    assert names("status=available&sort=name:asc") == ["alpha", "beta", "gamma"]
    assert names("metadata={'tier': 'gold'}") == ["alpha"]
    assert names("sort_key=name&sort_dir=desc") == ["gamma", "beta", "alpha"]
    # Paging: limit and marker, with a next link on a full page.
    page = http.ok("GET", "/snapshots?sort=name:asc&limit=2")
    assert [s["name"] for s in page["snapshots"]] == ["alpha", "beta"]
    [link] = page["snapshots_links"]
    assert link["rel"] == "next" and f"marker={made[1]['id']}" in link["href"]
    assert names(f"sort=name:asc&limit=2&marker={made[1]['id']}") == ["gamma"]
    assert names("sort=name:asc&offset=1&limit=1") == ["beta"]
    # A user's unknown filter: ignored below 3.33, a 400 from it; an admin's matches nothing.
    assert len(names("size=1")) == 3
    fault(http.call("GET", "/snapshots?size=1", version="3.33"), 400, "badRequest", "Invalid filters size")
    assert names("bogus=1", token=http.admin) == []
    # all_tenants: an admin's, every project's.
    assert "theirs" in names("all_tenants=1", token=http.admin)
    assert "theirs" not in names("all_tenants=1")
    for query in ("limit=x", "limit=-1", "offset=-1", "sort=name:up", "sort=nope", "sort=name&sort_key=name",
                  "all_tenants=maybe"):
        fault(http.call("GET", f"/snapshots?{query}"), 400, "badRequest")
    fault(http.call("GET", "/snapshots?marker=nope"), 404, "itemNotFound")


def test_an_admins_like_filters_match_a_part_from_3_34(http: SnapshotHttp) -> None:
    """Regression: an admin's ``name~`` on snapshot lists matched nothing (Cinder's matches a part)."""
    fast = http.fast
    vol = fast.volume(1)
    for name in ("Nightly-1", "weekly", "nightly-2", "50%_off"):
        http.snap(vol.id, name=name, description=f"about {name}")
    fast.svc.snapshots.create(Principal("p2"), "p2", fast.volume(1, project="p2").id, name="their nightly")

    def admin(query: str, version: str = "3.34") -> list[str]:
        body = http.ok("GET", f"/snapshots/detail?sort=name:asc&{query}", token=http.admin, version=version)
        return [s["name"] for s in body["snapshots"]]

    assert admin("all_tenants=1&name~=NIGHTLY") == ["Nightly-1", "nightly-2", "their nightly"]
    assert admin("name~=nightly") == ["Nightly-1", "nightly-2"]  # without all_tenants: the path's project
    assert admin("all_tenants=1&display_name~=0%_") == ["50%_off"]  # % and _ are themselves
    assert admin("all_tenants=1&description~=ABOUT W") == ["weekly"]
    assert admin("all_tenants=1&name~=ly&status~=avail&project_id=p1") == ["Nightly-1", "nightly-2", "weekly"]
    assert admin("all_tenants=1&name~=nightly", version="3.33") == []  # no like filters before 3.34
    # A user's: not among Cinder's default resource filters for snapshots, so a 400 from 3.33.
    fault(http.call("GET", "/snapshots?name~=nightly", version="3.34"), 400, "badRequest", "name~")
    assert len(http.ok("GET", "/snapshots?name~=nightly", version="3.32")["snapshots"]) == 4  # ignored


def test_show_update_and_other_projects(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    snap = http.snap(vol.id, name="one")
    shown = http.ok("GET", f"/snapshots/{snap['id']}")["snapshot"]
    assert set(shown) == EXTENDED_KEYS and shown["name"] == "one"
    # A reader reads, and sees the extended attributes; the other project sees nothing.
    assert set(http.ok("GET", f"/snapshots/{snap['id']}", token=http.reader)["snapshot"]) == EXTENDED_KEYS
    fault(http.call("GET", f"/snapshots/{snap['id']}", token=http.other, project="p2"), 404, "itemNotFound")
    fault(http.call("GET", f"/snapshots/{snap['id']}", token=http.other), 403, "forbidden")
    updated = http.ok("PUT", f"/snapshots/{snap['id']}", {"snapshot": {"name": "two", "description": "d"}})
    assert set(updated["snapshot"]) == SUMMARY_KEYS
    assert (updated["snapshot"]["name"], updated["snapshot"]["description"]) == ("two", "d")
    assert http.ok("PUT", f"/snapshots/{snap['id']}", {"snapshot": {"display_name": "three"}})["snapshot"]["name"] \
        == "three"
    for body in ({"snapshot": {}}, {"snapshot": {"name": "n" * 256}}, {"snapshot": {"volume_id": "x"}}, {}):
        fault(http.call("PUT", f"/snapshots/{snap['id']}", body), 400, "badRequest")
    fault(http.call("PUT", f"/snapshots/{snap['id']}", {"snapshot": {"name": "x"}}, token=http.reader), 403,
          "forbidden", "volume:update_snapshot")
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": vol.id}}, token=http.reader), 403,
          "forbidden", "volume:create_snapshot")
    assert fast.svc.snapshots.get(fast.who, "p1", snap["id"]).name == "three"


def test_metadata_endpoints(http: SnapshotHttp) -> None:
    vol = http.fast.volume(1)
    sid = http.snap(vol.id, metadata={"a": "1"})["id"]
    path = f"/snapshots/{sid}/metadata"
    assert http.ok("GET", path) == {"metadata": {"a": "1"}}
    assert http.ok("POST", path, {"metadata": {"b": "2"}}) == {"metadata": {"a": "1", "b": "2"}}
    assert http.ok("PUT", path, {"metadata": {"c": "3"}}) == {"metadata": {"c": "3"}}
    assert http.ok("PUT", f"{path}/c", {"meta": {"c": "4"}}) == {"meta": {"c": "4"}}
    assert http.ok("GET", f"{path}/c") == {"meta": {"c": "4"}}
    fault(http.call("PUT", f"{path}/c", {"meta": {"d": "4"}}), 400, "badRequest", "mismatch")
    fault(http.call("GET", f"{path}/nope"), 404, "itemNotFound")
    assert http.call("DELETE", f"{path}/c").status_code == 200
    fault(http.call("DELETE", f"{path}/c"), 404, "itemNotFound")
    assert http.ok("GET", path) == {"metadata": {}}
    fault(http.call("POST", path, {"metadata": {"k": "v" * 256}}), 400, "badRequest")
    fault(http.call("POST", path, {"metadata": {"x": "y"}}, token=http.reader), 403, "forbidden")


# -- delete, force delete, reset status ---------------------------------------------------------------
def test_delete_from_available_or_error_only(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    sid = http.snap(vol.id)["id"]
    for status in ("creating", "deleting", "error_deleting", "restoring"):
        fast.db_execute("UPDATE snapshots SET status = ? WHERE id = ?", status, sid)
        fault(http.call("DELETE", f"/snapshots/{sid}"), 400, "badRequest", status)
        assert fast.mem.snapshot_exists(sid, vol.id)
    fast.db_execute("UPDATE snapshots SET status = 'error' WHERE id = ?", sid)
    assert http.call("DELETE", f"/snapshots/{sid}").status_code == 202
    assert snapshot_rows(fast) == [] and not fast.mem.snapshot_exists(sid, vol.id)
    fault(http.call("DELETE", f"/snapshots/{sid}"), 404, "itemNotFound")


def test_a_failed_backend_delete_leaves_error_deleting(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    sid = http.snap(vol.id)["id"]
    fast.mem.inject("delete_snapshot")
    fault(http.call("DELETE", f"/snapshots/{sid}"), 500, "computeFault")
    assert snapshot_rows(fast) == [(sid, "error_deleting")] and fast.mem.snapshot_exists(sid, vol.id)
    # As in Cinder, error_deleting is force-deleted (or reset) by an admin.
    act = f"/snapshots/{sid}/action"
    fault(http.call("POST", act, {"os-force_delete": {}}), 403, "forbidden",
          "volume_extension:snapshot_admin_actions:force_delete")
    assert http.call("POST", act, {"os-force_delete": {}}, token=http.admin).status_code == 202
    assert snapshot_rows(fast) == [] and not fast.mem.snapshot_exists(sid, vol.id)


def test_reset_status_is_for_admins_and_takes_cinders_statuses(http: SnapshotHttp) -> None:
    fast = http.fast
    sid = http.snap(fast.volume(1).id)["id"]
    act = f"/snapshots/{sid}/action"
    fault(http.call("POST", act, {"os-reset_status": {"status": "error"}}), 403, "forbidden",
          "volume_extension:snapshot_admin_actions:reset_status")
    for body in ({"os-reset_status": {"status": "bogus"}}, {"os-reset_status": {}}, {"os-reset_status": None},
                 {"os-nothing": {}}, {}):
        fault(http.call("POST", act, body, token=http.admin), 400, "badRequest")
    assert snapshot_rows(fast) == [(sid, "available")]
    for status in ("error", "creating", "error_deleting", "available"):
        assert http.call("POST", act, {"os-reset_status": {"status": status}}, token=http.admin).status_code == 202
        assert snapshot_rows(fast) == [(sid, status)]


# -- a volume with snapshots: delete refused, or cascading -----------------------------------------------
def test_a_volume_with_snapshots_is_deleted_only_with_cascade(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"c")
    before = fast.mem.state()
    sids = [http.snap(vol.id)["id"] for _ in range(2)]
    fault(http.call("DELETE", f"/volumes/{vol.id}"), 400, "badRequest", "snapshot", "cascade")
    fault(http.call("POST", f"/volumes/{vol.id}/action", {"os-force_delete": None}, token=http.admin), 400,
          "badRequest", "snapshot")
    assert fast.get(vol.id).status.value == "available" and len(snapshot_rows(fast)) == 2
    fault(http.call("DELETE", f"/volumes/{vol.id}?cascade=maybe"), 400, "badRequest", "cascade")
    assert http.call("DELETE", f"/volumes/{vol.id}?cascade=false").status_code == 400
    assert http.call("DELETE", f"/volumes/{vol.id}?cascade=true").status_code == 202
    assert snapshot_rows(fast) == [] and fast.volume_ids() == set()
    assert not any(fast.mem.snapshot_exists(s, vol.id) for s in sids)
    assert fast.mem.state()[0] == [] and before[0] == [vol.id]
    assert fast.mem.state() == ([], [], [])


def test_cascade_refuses_a_snapshot_that_cannot_go_and_changes_nothing(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    sid = http.snap(vol.id)["id"]
    fast.db_execute("UPDATE snapshots SET status = 'creating' WHERE id = ?", sid)
    fault(http.call("DELETE", f"/volumes/{vol.id}?cascade=true"), 400, "badRequest", "creating")
    assert fast.get(vol.id).status.value == "available" and snapshot_rows(fast) == [(sid, "creating")]
    assert fast.mem.volume_exists(vol.id) and fast.mem.snapshot_exists(sid, vol.id)


def test_a_volume_without_snapshots_is_deleted_with_or_without_cascade(http: SnapshotHttp) -> None:
    a, b = http.fast.volume(1), http.fast.volume(1)
    assert http.call("DELETE", f"/volumes/{a.id}").status_code == 202
    assert http.call("DELETE", f"/volumes/{b.id}?cascade=true").status_code == 202
    assert http.fast.volume_ids() == set()


# -- volumes from snapshots ---------------------------------------------------------------------------------
def test_a_volume_from_a_snapshot_holds_its_data(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"f")
    sid = http.snap(vol.id)["id"]
    fast.mem.write(vol.id, 0, b"later" * 10)  # after the snapshot: not in the new volume
    made = http.ok("POST", "/volumes", {"volume": {"snapshot_id": sid, "name": "from-snap"}}, status=202)["volume"]
    assert (made["size"], made["snapshot_id"], made["status"]) == (1, sid, "available")
    assert fast.mem.read(made["id"], 0, BLOCK) == b"f" * BLOCK
    assert http.ok("GET", f"/volumes/{made['id']}")["volume"]["snapshot_id"] == sid
    bigger = http.ok("POST", "/volumes", {"volume": {"snapshot_id": sid, "size": 3}}, status=202)["volume"]
    assert bigger["size"] == 3 and fast.mem.size(bigger["id"]) == 3 * GIB
    assert fast.mem.read(bigger["id"], 0, BLOCK) == b"f" * BLOCK
    assert fast.mem.read(bigger["id"], 2 * GIB, BLOCK) == bytes(BLOCK)
    # The new volumes are independent of the snapshot: it can go, and they keep their data.
    assert http.call("DELETE", f"/snapshots/{sid}").status_code == 202
    assert fast.mem.read(made["id"], 0, BLOCK) == b"f" * BLOCK
    assert http.call("DELETE", f"/volumes/{vol.id}").status_code == 202
    assert fast.mem.read(bigger["id"], 0, BLOCK) == b"f" * BLOCK


def test_volumes_from_snapshots_follow_cinders_rules(http: SnapshotHttp) -> None:
    fast = http.fast
    fast.svc.types.create(fast.admin, "other", extra_specs={"volume_backend_name": "elsewhere"})
    vol = fast.volume(2)
    sid = http.snap(vol.id)["id"]
    with fast.creates_nothing():
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": sid, "size": 1}}), 400, "badRequest",
              "cannot be smaller than the snapshot size 2GB")
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": "nope"}}), 404, "itemNotFound")
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": sid, "volume_type": "other"}}), 400,
              "badRequest", "backend")
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": sid}}, token=http.other, project="p2"), 404,
              "itemNotFound")
        fault(http.call("POST", "/volumes", {"volume": {"name": "no size"}}), 400, "badRequest", "size")
        fast.db_execute("UPDATE snapshots SET status = 'error' WHERE id = ?", sid)
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": sid}}), 400, "badRequest", "available")
        fast.db_execute("UPDATE snapshots SET status = 'available' WHERE id = ?", sid)
        fast.mem.inject("create_volume_from_snapshot")
        fault(http.call("POST", "/volumes", {"volume": {"snapshot_id": sid}}), 500, "computeFault")


def test_a_volume_from_a_snapshot_counts_in_the_quotas(make_fast: Any) -> None:
    fast = make_fast(quota_volumes=2, quota_gigabytes=10, quota_snapshots=5)
    vol = fast.volume(3)
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id)
    with pytest.raises(Exception, match="VolumeSizeExceedsAvailableQuota"):
        fast.svc.volumes.create(fast.who, "p1", 5, snapshot_id=snap.id)  # 3 + 3 + 5 > 10
    made = fast.svc.volumes.create(fast.who, "p1", None, snapshot_id=snap.id)
    assert made.size == 3 and made.snapshot_id == snap.id


# -- revert (3.40) --------------------------------------------------------------------------------------------
def test_revert_is_served_from_3_40_only(http: SnapshotHttp) -> None:
    vol = http.fast.volume(1)
    sid = http.snap(vol.id)["id"]
    fault(http.revert(vol.id, sid, version="3.39"), 404, "itemNotFound", "revert", "3.40")
    fault(http.revert(vol.id, sid, version="3.27"), 404, "itemNotFound", "revert", "3.40")
    fault(http.revert(vol.id, sid, version=None), 404, "itemNotFound")


@pytest.mark.usefixtures("at_3_40")
def test_revert_puts_the_volume_back_to_its_latest_snapshot(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"1")
    first = http.snap(vol.id)["id"]
    fast.mem.write(vol.id, 0, b"2" * BLOCK)
    latest = http.snap(vol.id)["id"]
    fast.mem.write(vol.id, 0, b"3" * BLOCK)
    fast.mem.write(vol.id, GIB - BLOCK, b"z" * BLOCK)
    seen: list[tuple[str, str]] = []
    fast.mem.inject("revert_to_snapshot", lambda: seen.append(
        (fast.get(vol.id).status.value, fast.svc.snapshots.get(fast.who, "p1", latest).status.value)))
    fault(http.revert(vol.id, first), 400, "badRequest", "not the latest")
    assert http.revert(vol.id, latest).status_code == 202
    assert seen == [("reverting", "restoring")]
    assert fast.mem.read(vol.id, 0, BLOCK) == b"2" * BLOCK
    assert fast.mem.read(vol.id, GIB - BLOCK, BLOCK) == bytes(BLOCK)
    assert fast.get(vol.id).status.value == "available"
    assert dict(snapshot_rows(fast)) == {first: "available", latest: "available"}
    # Again: a revert keeps the snapshot, which reverts the volume once more.
    fast.mem.write(vol.id, 0, b"4" * BLOCK)
    assert http.revert(vol.id, latest).status_code == 202
    assert fast.mem.read(vol.id, 0, BLOCK) == b"2" * BLOCK
    # Once the latest goes, the one before is the latest.
    assert http.call("DELETE", f"/snapshots/{latest}").status_code == 202
    assert http.revert(vol.id, first).status_code == 202
    assert fast.mem.read(vol.id, 0, BLOCK) == b"1" * BLOCK
    # Nothing piles up: the volume and its one snapshot, and only their layers.
    assert fast.mem.depth(vol.id) == 2
    assert http.call("DELETE", f"/volumes/{vol.id}?cascade=true").status_code == 202
    assert fast.mem.state() == ([], [], [])


@pytest.mark.usefixtures("at_3_40")
def test_revert_follows_cinders_checks(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"a")
    fault(http.revert(vol.id, "nope"), 400, "badRequest", "doesn't have any snapshots")
    sid = http.snap(vol.id)["id"]
    other = fast.volume(1)
    other_sid = http.snap(other.id)["id"]
    fault(http.revert(vol.id, other_sid), 400, "badRequest", "not the latest")
    fault(http.revert(vol.id, sid, token=http.reader), 403, "forbidden", "volume:revert_to_snapshot")
    for body in ({"revert": {}}, {"revert": {"snapshot_id": 1}}, {"revert": None}):
        fault(http.call("POST", f"/volumes/{vol.id}/action", body, version="3.40"), 400, "badRequest")
    attach(fast, vol.id)
    fault(http.revert(vol.id, sid), 409, "conflictingRequest", "must be available", "in-use")
    fast.set_status(vol.id, "available")
    fast.db_execute("DELETE FROM attachments WHERE volume_id = ?", vol.id)
    fast.db_execute("UPDATE snapshots SET status = 'error' WHERE id = ?", sid)
    fault(http.revert(vol.id, sid), 409, "conflictingRequest", "error")
    fast.db_execute("UPDATE snapshots SET status = 'available' WHERE id = ?", sid)
    fast.svc.volumes.extend(fast.who, "p1", vol.id, 2)
    fault(http.revert(vol.id, sid), 400, "badRequest", "size must be equal")
    assert fast.get(vol.id).status.value == "available" and fast.mem.read(vol.id, 0, BLOCK) == b"a" * BLOCK


@pytest.mark.usefixtures("at_3_40")
def test_a_failed_revert_leaves_the_volume_in_error_and_the_snapshot_available(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"a")
    sid = http.snap(vol.id)["id"]
    fast.mem.write(vol.id, 0, b"b" * BLOCK)
    fast.mem.inject("revert_to_snapshot")
    fault(http.revert(vol.id, sid), 500, "computeFault")
    assert fast.get(vol.id).status.value == "error" and snapshot_rows(fast) == [(sid, "available")]
    assert fast.mem.read(vol.id, 0, BLOCK) == b"b" * BLOCK, "the memory driver's revert is all or nothing"


# -- storage --------------------------------------------------------------------------------------------------
def test_the_snapshots_migration_upgrades_keeps_volumes_and_downgrades_on_sqlite(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0010")
        with engine.begin() as c:
            c.execute(text("INSERT INTO volume_types (id, name, is_public, extra_specs, created_at) "
                           "VALUES ('t', 't', 1, '{}', '2026-01-01')"))
            c.execute(text("INSERT INTO volumes (id, project_id, size, status, volume_type_id, backend, metadata, "
                           "created_at, updated_at) VALUES ('v', 'p', 1, 'available', 't', 'b', '{}', "
                           "'2026-01-01', '2026-01-01')"))
        command.upgrade(cfg, "0013")
        assert "snapshots" in inspect(engine).get_table_names()
        with engine.connect() as c:  # an existing volume was made from no snapshot
            assert c.execute(text("SELECT id, snapshot_id FROM volumes")).one() == ("v", None)
        # snapshots.user_id comes with 0014 (tests/unit/test_user_ids.py)
        assert not [d for d in schema_drift(engine) if "snapshot" in repr(d) and "user_id" not in repr(d)
                    and "group_snapshot" not in repr(d)  # 0019's (tests/unit/test_group_snapshots.py)
                    and "progress" not in repr(d)]  # 0023's (tests/unit/test_snapshot_status.py)
        command.downgrade(cfg, "0010")
        assert "snapshots" not in inspect(engine).get_table_names()
        assert "snapshot_id" not in {c["name"] for c in inspect(engine).get_columns("volumes")}
        with engine.connect() as c:
            assert c.execute(text("SELECT id FROM volumes")).scalar_one() == "v"
    finally:
        engine.dispose()


def test_the_test_only_maximum_microversion_serves_past_the_maximum() -> None:
    """VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION (the real-server revert test sets it): the middleware's maximum."""
    from volclone.config import Settings

    assert "not supported" in str(versions.requested_version("volume 3.72"))
    assert versions.requested_version("volume 3.40", (3, 40)) == (3, 40)
    assert versions.requested_version("volume latest", (3, 40)) == (3, 40)
    assert "not supported" in str(versions.requested_version("volume 3.41", (3, 40)))
    assert Settings.from_env({"VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION": "3.40"}).unsafe_test_max_microversion == "3.40"
    assert Settings.from_env({}).unsafe_test_max_microversion is None
    assert versions.parse("3.40") == (3, 40)
    with pytest.raises(ValueError):
        versions.parse("3.x")


def test_a_snapshot_recorded_while_its_volume_is_claimed_for_delete_is_undone(http: SnapshotHttp,
                                                                              monkeypatch: Any) -> None:
    """Where no lock spans a snapshot's create and its volume's delete (the API role), the delete
    claims first and the create records first: here the claim lands between the create's check and
    its record, and the create gives up, leaving nothing."""
    fast = http.fast
    vol = fast.volume(1)
    snaps = fast.svc.snapshots
    add = snaps.repo.add

    def add_then_claim(snap: Any) -> None:
        add(snap)
        fast.set_status(vol.id, "deleting")

    monkeypatch.setattr(snaps, "quotas", None)
    monkeypatch.setattr(snaps.repo, "add", add_then_claim)
    with pytest.raises(Exception, match="changed state") as caught:
        snaps.create(fast.who, "p1", vol.id)
    assert getattr(caught.value, "status", None) == 400
    assert snapshot_rows(fast) == [] and fast.mem.state()[2] == []


def test_the_reaper_leaves_a_deleting_volume_that_still_has_snapshots(http: SnapshotHttp) -> None:
    """A cascading delete that died between its snapshots: the volume, its snapshots and their data stay."""
    from .test_reaper import age, reaper

    fast = http.fast
    vol = fast.volume(1, fill=b"r")
    keep = http.snap(vol.id)["id"]
    gone = fast.volume(1)
    for v, status in ((vol.id, "deleting"), (gone.id, "deleting")):
        fast.set_status(v, status)
        age(fast, v)
    assert reaper(fast).run_once() == 1  # the volume without snapshots only
    assert fast.volume_ids() == {vol.id} and snapshot_rows(fast) == [(keep, "available")]
    assert fast.mem.volume_exists(vol.id) and fast.mem.snapshot_exists(keep, vol.id)


def test_an_admin_lists_the_volumes_made_from_a_snapshot(http: SnapshotHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    sid = http.snap(vol.id)["id"]
    made = fast.svc.volumes.create(fast.who, "p1", None, snapshot_id=sid)

    def ids(query: str) -> set[str]:
        return {v["id"] for v in http.ok("GET", f"/volumes?{query}", token=http.admin)["volumes"]}

    assert ids(f"snapshot_id={sid}") == {made.id}
    assert ids("snapshot_id=None") == {vol.id}
    assert ids("snapshot_id=nope") == set()
    assert len(ids("sort=snapshot_id:asc")) == 2  # accepted (it orders nothing)
