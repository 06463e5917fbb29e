"""Cinder's user messages (3.3) through the API in process and the service below it, on the
memory driver with injected faults: a failed volume create, snapshot create, extend, and a
clone-volumes flow that ended REVERTED each leave their project a message in Cinder's shape
(event id, action and detail), which lists (3.5: filters, sort, paging), shows, deletes, and
expires (the reaper deletes it past guaranteed_until)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from volclone.domain import PageQuery
from volclone.errors import BackendError, OverLimit
from volclone.flows.model import Step
from volclone.service.messages import Action, Detail, MessageService, Resource, detail_for

from .conftest import Fast
from .http import Http
from .test_clone_cancel import hold
from .test_clone_revert import cloned
from .test_reaper import reaper
from .test_volume_actions import fault

#: Tempest's message schema (tempest/lib/api_schema/response/volume/messages.py): exactly these keys.
KEYS = {"id", "message_level", "event_id", "user_message", "resource_type", "resource_uuid", "request_id",
        "guaranteed_until", "created_at", "links"}


def messages(http: Http, query: str = "", version: str = "3.3", **kw: Any) -> list[dict[str, Any]]:
    return http.ok("GET", f"/messages{query}", version=version, **kw)["messages"]  # type: ignore[no-any-return]


def test_a_failed_create_leaves_a_message_in_cinders_shape(http: Http) -> None:
    fast = http.fast
    fast.mem.inject("create_volume")
    r = http.call("POST", "/volumes", {"volume": {"size": 1, "name": "doomed"}})
    assert r.status_code >= 500, r.text
    [m] = messages(http)
    assert set(m) == KEYS
    assert (m["event_id"], m["resource_type"], m["message_level"]) == ("VOLUME_VOLUME_008_012", "VOLUME", "ERROR")
    assert m["user_message"] == "create volume from backend storage:Driver failed to create the volume."
    assert m["request_id"] == r.headers["x-openstack-request-id"] and m["resource_uuid"]  # the failed request
    created = dt.datetime.fromisoformat(m["created_at"])
    assert dt.datetime.fromisoformat(m["guaranteed_until"]) - created == dt.timedelta(days=30)  # Cinder's message_ttl
    assert http.ok("GET", f"/messages/{m['id']}", version="3.3")["message"] == m
    assert m["links"][0]["href"].endswith(f"/v3/p1/messages/{m['id']}")


def test_a_successful_create_leaves_none(http: Http) -> None:
    http.fast.volume(1)
    assert messages(http) == []


def test_every_answer_names_its_request_and_a_flows_message_has_its_own(http: Http) -> None:
    ids = {http.call("GET", "/volumes").headers["x-openstack-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(i.startswith("req-") and len(i) == 40 for i in ids)
    assert "x-openstack-request-id" in http.call("GET", "/volumes", token="nope").headers  # a 401 too
    assert record(http.fast) and messages(http)[0]["request_id"].startswith("req-")  # outside a request


def test_a_failed_snapshot_and_a_failed_extend_each_leave_one(http: Http) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.mem.inject("create_snapshot")
    with pytest.raises(BackendError):
        fast.svc.snapshots.create(fast.who, "p1", vol.id)
    fast.mem.inject("extend_volume")
    with pytest.raises(BackendError):
        fast.svc.volumes.extend(fast.who, "p1", vol.id, 2)
    got = {(m["event_id"], m["resource_type"], m["user_message"]) for m in messages(http)}
    assert got == {("VOLUME_VOLUME_SNAPSHOT_009_013", "VOLUME_SNAPSHOT", "create snapshot:Snapshot failed to create."),
                   ("VOLUME_VOLUME_007_010", "VOLUME", "extend volume:Volume Driver failed to extend volume.")}
    extend = next(m for m in messages(http) if m["event_id"] == "VOLUME_VOLUME_007_010")
    assert extend["resource_uuid"] == vol.id


def test_a_reverted_clone_leaves_one_and_a_cancelled_one_none(make_fast: Any) -> None:
    fast: Fast = make_fast(failpoints=(f"pause:{Step.SET_METADATA.prefix}",))
    src = fast.volume(1, "a").id
    task = fast.clone([src])
    hold(fast, task, Step.SET_METADATA)
    fast.svc.clones.cancel(fast.who, "p1", task)
    assert fast.wait(task).flow_state.value == "REVERTED"
    assert fast.svc.messages is not None
    assert fast.svc.messages.page(fast.who, "p1", PageQuery()) == []
    clean: Fast = make_fast()
    src = clean.volume(1, "a").id
    clean.mem.inject("clone_from_group_snapshot")
    task = clean.clone([src])
    assert clean.wait(task).flow_state.value == "REVERTED"
    assert clean.svc.messages is not None
    [m] = clean.svc.messages.page(clean.who, "p1", PageQuery())
    assert (m.event_id, m.resource_type, m.resource_uuid) == ("VOLUME_CLONE_TASK_901_001", "CLONE_TASK", task)


def test_a_reverted_revert_in_place_leaves_one_of_its_own(fast: Fast) -> None:
    sources, task, _ = cloned(fast)
    fast.mem.inject("clone_from_group_snapshot")
    revert_task = fast.svc.clones.revert(fast.who, "p1", task)
    assert fast.wait(revert_task).flow_state.value == "REVERTED"
    assert fast.svc.messages is not None
    [m] = fast.svc.messages.page(fast.who, "p1", PageQuery())
    assert (m.event_id, m.resource_uuid) == ("VOLUME_CLONE_TASK_902_001", revert_task)


def test_quota_failures_map_to_quota_exceed(fast: Fast) -> None:
    assert detail_for(OverLimit("x"), Detail.DRIVER_FAILED_CREATE) == Detail.QUOTA_EXCEED
    assert detail_for(BackendError("x"), Detail.DRIVER_FAILED_CREATE) == Detail.DRIVER_FAILED_CREATE


def record(fast: Fast, project: str = "p1", resource: str = Resource.VOLUME, uuid: str = "v") -> str:
    assert fast.svc.messages is not None
    m = fast.svc.messages.record(project, resource, uuid, Action.EXTEND_VOLUME, Detail.DRIVER_FAILED_EXTEND)
    assert m is not None
    return m.id


def test_below_3_3_there_are_no_messages(http: Http) -> None:
    record(http.fast)
    for version in (None, "3.2"):
        fault(http.call("GET", "/messages", version=version), 404, "itemNotFound", "3.3")


def test_projects_see_their_own_and_members_delete_them(http: Http) -> None:
    fast = http.fast
    mine, theirs = record(fast), record(fast, "p2")
    assert [m["id"] for m in messages(http)] == [mine]
    fault(http.call("GET", f"/messages/{theirs}", version="3.3"), 404, "itemNotFound")
    fault(http.call("DELETE", f"/messages/{theirs}", version="3.3"), 404, "itemNotFound")
    fault(http.call("DELETE", f"/messages/{mine}", version="3.3", token=http.reader), 403, "forbidden",
          "message:delete")
    assert {m["id"] for m in messages(http, token=http.admin, project="admin")} == {mine, theirs}
    http.ok("DELETE", f"/messages/{mine}", status=204, version="3.3")
    fault(http.call("GET", f"/messages/{mine}", version="3.3"), 404, "itemNotFound")
    assert messages(http) == []


def test_filters_sort_and_paging_from_3_5(http: Http) -> None:
    fast = http.fast
    ids = [record(fast, uuid=f"v{i}") for i in range(3)]
    snap = record(fast, resource=Resource.VOLUME_SNAPSHOT, uuid="s")
    assert [m["id"] for m in messages(http, "?resource_type=VOLUME_SNAPSHOT", version="3.5")] == [snap]
    assert [m["resource_uuid"] for m in messages(http, "?resource_uuid=v1", version="3.5")] == ["v1"]
    # Below 3.5 the parameters are ignored, as Cinder ignores them.
    assert len(messages(http, "?resource_uuid=v1&limit=1", version="3.3")) == 4
    newest_first = [m["id"] for m in messages(http, version="3.5")]
    assert newest_first == [snap, *reversed(ids)]
    oldest = messages(http, "?sort=created_at:asc&limit=2", version="3.5")
    assert [m["id"] for m in oldest] == ids[:2]
    page = http.ok("GET", "/messages?sort=created_at:asc&limit=2", version="3.5")
    assert list(page) == ["messages"]  # no messages_links: Cinder's view has none
    after = messages(http, f"?sort=created_at:asc&limit=2&marker={ids[1]}", version="3.5")
    assert [m["id"] for m in after] == [ids[2], snap]
    fault(http.call("GET", "/messages?sort=colour", version="3.5"), 400, "badRequest", "sort key")
    fault(http.call("GET", "/messages?colour=red", version="3.5"), 400, "badRequest", "colour")


def test_an_admins_like_filters_from_3_34(http: Http) -> None:
    fast = http.fast
    vol, other = record(fast, uuid="Vol-Alpha_1"), record(fast, "p2", uuid="vol-beta")
    snap = record(fast, resource=Resource.VOLUME_SNAPSHOT, uuid="snap-alpha")

    def admin(query: str, version: str = "3.34") -> set[str]:
        return {m["id"] for m in messages(http, query, version=version, token=http.admin, project="admin")}

    assert admin("?resource_uuid~=ALPHA") == {vol, snap}  # a part, in any case
    assert admin("?resource_uuid~=vol-&resource_type~=volu") == {vol, other}
    assert admin("?resource_uuid~=a_1") == {vol} and admin("?resource_uuid~=%") == set()  # _ and % literal
    assert admin("?message_level~=err&resource_type=VOLUME_SNAPSHOT") == {snap}
    # Before 3.34, and a user's at any version (Cinder's resource filters name no key~ for messages): a 400.
    fault(http.call("GET", "/messages?resource_uuid~=alpha", version="3.33", token=http.admin, project="admin"),
          400, "badRequest", "resource_uuid~")
    fault(http.call("GET", "/messages?resource_uuid~=alpha", version="3.34"), 400, "badRequest", "resource_uuid~")


def test_messages_expire_and_the_reaper_deletes_them(fast: Fast) -> None:
    assert fast.svc.messages is not None
    kept, old = record(fast), record(fast)
    fast.db_execute("UPDATE user_messages SET expires_at = ? WHERE id = ?",
                    dt.datetime(2000, 1, 1).isoformat(sep=" "), old)
    r = reaper(fast)
    r.messages = fast.svc.messages
    r.run_once()
    assert [row[0] for row in fast.db_rows("SELECT id FROM user_messages")] == [kept]


def test_the_lifetime_is_configurable(make_fast: Any) -> None:
    fast: Fast = make_fast(message_ttl_s=60.0)
    assert fast.svc.messages is not None
    m = fast.svc.messages.record("p1", Resource.VOLUME, "v", Action.EXTEND_VOLUME, Detail.UNKNOWN_ERROR)
    assert m is not None and m.expires_at - m.created_at == dt.timedelta(seconds=60)


def test_a_message_that_cannot_be_written_does_not_hide_the_failure(fast: Fast) -> None:
    class Broken:
        def add(self, message: object) -> None:
            raise RuntimeError("database gone")

    svc = MessageService(Broken(), 60)  # type: ignore[arg-type]
    assert svc.record("p1", Resource.VOLUME, "v", Action.EXTEND_VOLUME, Detail.UNKNOWN_ERROR) is None
