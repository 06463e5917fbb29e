"""Cinder's volume transfers through the API in process (a TestClient on the fast service) and
the service below it, on the memory driver: create (the auth key once, only its salted hash
kept), lists, show, accept by another project (volume, snapshots and quota move), a wrong key,
``no_snapshots`` (3.55), the 3.57 fields, paging and sort (3.59), delete, and the statuses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from volclone.domain import Principal
from volclone.service.transfers import key_hash

from .conftest import Fast
from .http import Http
from .test_volume_actions import fault

SUMMARY_KEYS = {"id", "name", "volume_id", "links"}
DETAIL_KEYS = SUMMARY_KEYS | {"created_at"}
KEYS_3_57 = DETAIL_KEYS | {"no_snapshots", "destination_project_id", "source_project_id", "accepted"}


def offer(http: Http, volume_id: str, path: str = "/os-volume-transfer", version: str | None = None,
          **fields: Any) -> dict[str, Any]:
    return http.ok("POST", path, {"transfer": {"volume_id": volume_id, **fields}},  # type: ignore[no-any-return]
                   status=202, version=version)["transfer"]


def accept(http: Http, transfer_id: str, key: str, path: str = "/os-volume-transfer", **kw: Any) -> Any:
    return http.call("POST", f"{path}/{transfer_id}/accept", {"accept": {"auth_key": key}},
                     token=http.other, project="p2", **kw)


def transfer_rows(fast: Fast) -> list[tuple[Any, ...]]:
    return fast.db_rows("SELECT id, volume_id, project_id, salt, key_hash, accepted, destination_project_id "
                        "FROM volume_transfers ORDER BY id")


def test_create_shows_the_key_once_and_keeps_only_its_salted_hash(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(2, name="data")
    t = offer(http, vol.id, name="for-p2")
    assert set(t) == DETAIL_KEYS | {"auth_key"}
    assert (t["name"], t["volume_id"]) == ("for-p2", vol.id)
    assert re.fullmatch(r"[0-9a-f]{16}", t["auth_key"])
    assert fast.get(vol.id).status.value == "awaiting-transfer"
    [(tid, vid, project, salt, stored, accepted, dest)] = transfer_rows(fast)
    assert (tid, vid, project, accepted, dest) == (t["id"], vol.id, "p1", 0, None)
    assert re.fullmatch(r"[0-9a-f]{8}", salt) and t["auth_key"] not in stored
    assert stored == key_hash(salt, t["auth_key"])
    # Never again: a show and the lists have no key.
    shown = http.ok("GET", f"/os-volume-transfer/{t['id']}")["transfer"]
    assert set(shown) == DETAIL_KEYS and shown["links"][0]["href"].endswith(f"/v3/p1/os-volume-transfer/{t['id']}")
    [listed] = http.ok("GET", "/os-volume-transfer")["transfers"]
    assert set(listed) == SUMMARY_KEYS
    [detailed] = http.ok("GET", "/os-volume-transfer/detail")["transfers"]
    assert detailed == shown


def test_two_offers_get_different_keys_and_salts(http: Http) -> None:
    a, b = (offer(http, http.fast.volume(1).id) for _ in range(2))
    assert a["auth_key"] != b["auth_key"]
    salts = {row[3] for row in transfer_rows(http.fast)}
    assert len(salts) == 2


def test_accept_moves_the_volume_its_snapshots_and_their_quota(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(3)
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id)
    before = fast.svc.quotas.show_usage(fast.admin, "admin", "p2")
    t = offer(http, vol.id)
    r = accept(http, t["id"], t["auth_key"])
    assert r.status_code == 202, r.text
    assert set(r.json()["transfer"]) == SUMMARY_KEYS and r.json()["transfer"]["volume_id"] == vol.id
    moved = fast.get(vol.id, project="p2")
    assert (moved.project_id, moved.status.value) == ("p2", "available")
    moved_snap = fast.svc.snapshots.get(Principal("p2"), "p2", snap.id)
    assert moved_snap.project_id == "p2"
    # The accepting user becomes their user, as in Cinder (Tempest checks the volume's user_id).
    accepter = fast.svc.auth.authenticate(http.other).user_id
    assert accepter is not None and moved.user_id == moved_snap.user_id == accepter != vol.user_id
    fault(http.call("GET", f"/volumes/{vol.id}"), 404, "itemNotFound")   # p1 no longer has it
    usage = fast.svc.quotas.show_usage(fast.admin, "admin", "p2")
    assert usage["volumes"].in_use == before["volumes"].in_use + 1
    assert usage["gigabytes"].in_use == before["gigabytes"].in_use + 6   # the volume and its snapshot
    assert usage["snapshots"].in_use == before["snapshots"].in_use + 1
    assert fast.svc.quotas.show_usage(fast.admin, "admin", "p1")["volumes"].in_use == 0
    # Accepted: no longer listed nor shown; its row says who took it.
    assert http.ok("GET", "/os-volume-transfer")["transfers"] == []
    fault(http.call("GET", f"/os-volume-transfer/{t['id']}"), 404, "itemNotFound")
    assert transfer_rows(fast)[0][5:] == (1, "p2")
    fault(accept(http, t["id"], t["auth_key"]), 404, "itemNotFound")     # once only


def test_a_wrong_key_is_a_400_and_changes_nothing(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    t = offer(http, vol.id)
    wrong = "0" * 16 if t["auth_key"] != "0" * 16 else "1" * 16
    fault(accept(http, t["id"], wrong), 400, "badRequest", "Invalid auth key")
    assert fast.get(vol.id).status.value == "awaiting-transfer"
    assert transfer_rows(fast)[0][5:] == (0, None)
    for bad in ({"accept": {}}, {"accept": {"auth_key": 12}}, {"auth_key": t["auth_key"]}):
        fault(http.call("POST", f"/os-volume-transfer/{t['id']}/accept", bad, token=http.other, project="p2"),
              400, "badRequest")


def test_accept_over_the_accepting_projects_quota_is_413_and_moves_nothing(http: Http) -> None:
    fast = http.fast
    fast.svc.quotas.update(fast.admin, "admin", "p2", {"gigabytes": 2})
    vol = fast.volume(3)
    t = offer(http, vol.id)
    fault(accept(http, t["id"], t["auth_key"]), 413, "overLimit", "gigabytes")
    assert fast.get(vol.id).status.value == "awaiting-transfer"
    fast.svc.quotas.update(fast.admin, "admin", "p2", {"gigabytes": 3, "snapshots": 0})
    fast.set_status(vol.id, "available")
    http.ok("DELETE", f"/os-volume-transfer/{t['id']}", status=202)
    fast.svc.snapshots.create(fast.who, "p1", vol.id)
    t = offer(http, vol.id)
    fault(accept(http, t["id"], t["auth_key"]), 413, "overLimit")     # the snapshot's GiB, or its count
    assert fast.get(vol.id).project_id == "p1"


def test_no_snapshots_leaves_them_behind_at_3_55(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id)
    for version in (None, "3.59"):  # Cinder's os-volume-transfer body has no no_snapshots at any version
        fault(http.call("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id, "no_snapshots": True}},
                        version=version), 400, "badRequest", "volume-transfers")
    t = offer(http, vol.id, path="/volume-transfers", version="3.55", no_snapshots=True)
    assert t["no_snapshots"] is True and "accepted" not in t
    r = accept(http, t["id"], t["auth_key"], path="/volume-transfers", version="3.55")
    assert r.status_code == 202, r.text
    assert fast.get(vol.id, project="p2").project_id == "p2"
    assert fast.svc.snapshots.get(fast.who, "p1", snap.id).project_id == "p1"


def test_the_3_57_fields_and_volume_transfers_below_3_55(http: Http) -> None:
    vol = http.fast.volume(1)
    t = offer(http, vol.id, path="/volume-transfers", version="3.57")
    assert set(t) == KEYS_3_57 | {"auth_key"}
    assert (t["source_project_id"], t["destination_project_id"], t["accepted"], t["no_snapshots"]) == \
        ("p1", None, False, False)
    assert t["links"][0]["href"].endswith(f"/v3/p1/volume-transfers/{t['id']}")
    for version in (None, "3.54"):
        fault(http.call("GET", "/volume-transfers", version=version), 404, "itemNotFound", "3.55")


def test_delete_puts_the_volume_back(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    t = offer(http, vol.id)
    fault(http.call("DELETE", f"/os-volume-transfer/{t['id']}", token=http.other, project="p2"), 404,
          "itemNotFound")
    http.ok("DELETE", f"/os-volume-transfer/{t['id']}", status=202)
    assert fast.get(vol.id).status.value == "available" and transfer_rows(fast) == []
    fault(accept(http, t["id"], t["auth_key"]), 404, "itemNotFound")


@pytest.mark.parametrize("status", ["in-use", "error", "creating", "extending", "maintenance", "awaiting-transfer"])
def test_only_an_available_volume_is_offered(http: Http, status: str) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.set_status(vol.id, status)
    fault(http.call("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id}}), 400, "badRequest",
          "available")
    assert transfer_rows(fast) == []


def test_a_snapshot_not_available_stops_the_offer_unless_it_stays(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id)
    fast.db_execute("UPDATE snapshots SET status = 'error' WHERE id = ?", snap.id)
    fault(http.call("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id}}), 400, "badRequest",
          "doesn't allow transfer")
    assert fast.get(vol.id).status.value == "available"
    offer(http, vol.id, path="/volume-transfers", version="3.55", no_snapshots=True)


def test_an_offered_volume_is_neither_deleted_snapshotted_nor_extended(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    offer(http, vol.id)
    fault(http.call("DELETE", f"/volumes/{vol.id}"), 400, "badRequest")
    fault(http.call("POST", "/snapshots", {"snapshot": {"volume_id": vol.id}}), 400, "badRequest")
    fault(http.call("POST", f"/volumes/{vol.id}/action", {"os-extend": {"new_size": 2}}), 400, "badRequest")
    assert fast.get(vol.id).status.value == "awaiting-transfer"


def test_others_cannot_see_an_offer_and_a_reader_cannot_make_one(http: Http) -> None:
    vol = http.fast.volume(1)
    fault(http.call("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id}}, token=http.reader),
          403, "forbidden", "volume:create_transfer")
    fault(http.call("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id}}, token=http.other,
                    project="p2"), 404, "itemNotFound")
    t = offer(http, vol.id)
    assert http.ok("GET", "/os-volume-transfer", token=http.other, project="p2")["transfers"] == []
    fault(http.call("GET", f"/os-volume-transfer/{t['id']}", token=http.other, project="p2"), 404, "itemNotFound")
    assert [x["id"] for x in http.ok("GET", "/os-volume-transfer", token=http.reader)["transfers"]] == [t["id"]]
    everyone = http.ok("GET", "/os-volume-transfer?all_tenants=1", token=http.admin, project="admin")
    assert [x["id"] for x in everyone["transfers"]] == [t["id"]]


def test_lists_page_filter_and_sort_at_3_59(http: Http) -> None:
    fast = http.fast
    made = [offer(http, fast.volume(1).id, name=f"t{i}") for i in range(3)]
    first = http.ok("GET", "/volume-transfers?limit=2", version="3.59")
    assert len(first["transfers"]) == 2 and first["transfers_links"][0]["rel"] == "next"
    rest = http.ok("GET", f"/volume-transfers?limit=2&marker={first['transfers'][-1]['id']}", version="3.59")
    assert {t["id"] for t in first["transfers"] + rest["transfers"]} == {t["id"] for t in made}
    by_name = http.ok("GET", "/volume-transfers?sort=name:asc", version="3.59")["transfers"]
    assert [t["name"] for t in by_name] == ["t0", "t1", "t2"]
    assert [t["name"] for t in http.ok("GET", "/os-volume-transfer?name=t1")["transfers"]] == ["t1"]
    fault(http.call("GET", "/volume-transfers?sort=size", version="3.59"), 400, "badRequest", "sort key")
    fault(http.call("GET", "/os-volume-transfer?colour=red"), 400, "badRequest", "colour")
    fault(http.call("GET", "/os-volume-transfer?limit=x"), 400, "badRequest", "limit")
    fault(http.call("GET", "/os-volume-transfer?marker=nope"), 404, "itemNotFound")


def test_the_migration_upgrades_and_downgrades_on_sqlite(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0017")
        assert {"volume_transfers", "user_messages"} <= set(inspect(engine).get_table_names())
        assert not [d for d in schema_drift(engine) if "transfer" in repr(d) or "message" in repr(d)]
        command.downgrade(cfg, "-1")
        tables = set(inspect(engine).get_table_names())
        assert not {"volume_transfers", "user_messages"} & tables
        command.upgrade(cfg, "0017")
        assert {"volume_transfers", "user_messages"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_project_named_like_the_new_collection_gets_the_legacy_links(http: Http) -> None:
    fast = http.fast
    token = fast.svc.auth.create_token("volume-transfers", frozenset({"member", "reader"}))
    vol = fast.volume(1, project="volume-transfers")
    t = http.ok("POST", "/os-volume-transfer", {"transfer": {"volume_id": vol.id}}, status=202, token=token,
                project="volume-transfers", version="3.59")["transfer"]
    assert t["links"][0]["href"].endswith(f"/v3/volume-transfers/os-volume-transfer/{t['id']}")
    assert "no_snapshots" in t  # 3.55's field, on either collection
