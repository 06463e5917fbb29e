"""The volume actions of Cinder's that change a volume's size, flags and status, through the API
in process (a TestClient on the fast service: the routes, the policy, the fault format) and the
service below it: os-extend, os-set_bootable, os-update_readonly_flag, os-reset_status,
os-force_delete, os-reserve, os-unreserve, os-begin_detaching and os-roll_detaching."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import inspect, text

from plain import PlainDriver
from volclone.api import versions
from volclone.backends.memory import MemoryDriver
from volclone.db.database import alembic_config, make_engine, schema_drift
from volclone.domain import AttachMode, Principal

from .conftest import Fast
from .http import Http

GIB = 1024**3


class ActionHttp(Http):
    def act(self, volume_id: str, body: Any, token: str | None = None, version: str | None = None,
            project: str = "p1") -> httpx.Response:
        return self.call("POST", f"/volumes/{volume_id}/action", body, token, version, project)

    def show(self, volume_id: str) -> dict[str, Any]:
        return self.ok("GET", f"/volumes/{volume_id}", token=self.admin)["volume"]  # type: ignore[no-any-return]


@pytest.fixture
def http(fast: Fast) -> Iterator[ActionHttp]:
    with ActionHttp.serving(fast) as client:
        yield client


def fault(r: Any, status: int, name: str, *words: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == [name] and body[name]["code"] == status, body
    message = str(body[name]["message"])
    for word in words:
        assert word in message, message
    return message


def attach(fast: Fast, volume_id: str, mode: AttachMode | None = None) -> str:
    """Attach and complete (the volume is in-use); returns the attachment id."""
    a = fast.svc.attachments.create(fast.who, "p1", volume_id, instance_uuid="vm-1", connector={"host": "h1"},
                                    mode=mode)
    fast.svc.attachments.complete(fast.who, "p1", a.id)
    return a.id


def status(fast: Fast, volume_id: str) -> str:
    return fast.get(volume_id).status.value


# -- os-extend ------------------------------------------------------------------------------
def test_extend_grows_an_available_volume_and_its_data_stays(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, fill=b"a")
    before = fast.mem.read(vol.id, 0, 65536)
    r = http.act(vol.id, {"os-extend": {"new_size": 3}})
    assert r.status_code == 202 and r.content == b""
    assert fast.get(vol.id).size == 3 and status(fast, vol.id) == "available"
    assert fast.mem.size(vol.id) == 3 * GIB
    assert fast.mem.read(vol.id, 0, 65536) == before
    assert fast.mem.read(vol.id, 2 * GIB, 4096) == b"\0" * 4096
    assert http.show(vol.id)["size"] == 3
    # Cinder's schema takes a string of digits too.
    assert http.act(vol.id, {"os-extend": {"new_size": "4"}}).status_code == 202
    assert fast.get(vol.id).size == 4


@pytest.mark.parametrize("new_size", [1, 0])
def test_extend_needs_a_bigger_size(http: ActionHttp, new_size: int) -> None:
    vol = http.fast.volume(1)
    r = http.act(vol.id, {"os-extend": {"new_size": new_size}})
    if new_size == 0:
        fault(r, 400, "badRequest", "new_size")
    else:
        fault(r, 400, "badRequest", "must be greater than current size", "current: 1", "extended: 1")
    assert http.fast.get(vol.id).size == 1 and status(http.fast, vol.id) == "available"


@pytest.mark.parametrize("body", [
    {"os-extend": {"new_size": "two"}}, {"os-extend": {"new_size": -1}}, {"os-extend": {"new_size": True}},
    {"os-extend": {"new_size": 2.5}}, {"os-extend": {"new_size": 2**31}}, {"os-extend": {}},
    {"os-extend": {"new_size": 2, "x": 1}}, {"os-extend": None}, {"os-extend": [2]},
    {"os-extend": {"new_size": "٣"}},
])
def test_extend_bodies_that_are_not_valid_are_400s(http: ActionHttp, body: Any) -> None:
    vol = http.fast.volume(1)
    fault(http.act(vol.id, body), 400, "badRequest")
    assert http.fast.get(vol.id).size == 1


def test_an_attached_volume_is_extended_only_from_microversion_3_42(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    attach(fast, vol.id)
    for version in (None, "3.0", "3.27", "3.41"):  # below 3.42: never in-use
        fault(http.act(vol.id, {"os-extend": {"new_size": 2}}, version=version), 400, "badRequest",
              "must be 'available' to extend, currently in-use")
    assert versions.MAX_VERSION >= (3, 42)
    # From 3.42 an in-use volume grows, under its own rule, and stays in-use.
    assert http.act(vol.id, {"os-extend": {"new_size": 2}}, version="3.42").status_code == 202
    assert fast.get(vol.id).size == 2 and status(fast, vol.id) == "in-use"
    assert fast.mem.size(vol.id) == 2 * GIB
    fault(http.act(vol.id, {"os-extend": {"new_size": 3}}, version="3.41"), 400, "badRequest", "'available'")


def test_extend_attached_has_its_own_rule(make_fast: Any, tmp_path: Any) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"volume:extend_attached_volume": "rule:admin_api"\n')
    fast = make_fast(policy_file=policy)
    with ActionHttp.serving(fast) as http:
        vol, idle = fast.volume(1), fast.volume(1)
        attach(fast, vol.id)
        fault(http.act(vol.id, {"os-extend": {"new_size": 2}}, version="3.42"), 403, "forbidden",
              "volume:extend_attached_volume")
        assert http.act(idle.id, {"os-extend": {"new_size": 2}}, version="3.42").status_code == 202
        assert http.act(vol.id, {"os-extend": {"new_size": 2}}, token=http.admin, version="3.42").status_code == 202


def test_extend_refuses_other_statuses_and_changes_nothing(http: ActionHttp) -> None:
    fast = http.fast
    for s in ("error", "creating", "reserved", "error_extending", "maintenance"):
        vol = fast.volume(1)
        fast.set_status(vol.id, s)
        fault(http.act(vol.id, {"os-extend": {"new_size": 2}}), 400, "badRequest", f"currently {s}")
        assert fast.get(vol.id).size == 1 and status(fast, vol.id) == s and fast.mem.size(vol.id) == GIB


def test_extend_checks_the_gigabytes_quota(make_fast: Any) -> None:
    fast = make_fast(quota_volumes=10, quota_gigabytes=5, quota_snapshots=10)
    vol = fast.volume(2)
    fast.volume(1)
    with pytest.raises(Exception) as caught:
        fast.svc.volumes.extend(fast.who, "p1", vol.id, 5)
    assert getattr(caught.value, "status", None) == 413
    assert "VolumeSizeExceedsAvailableQuota" in str(caught.value) and "Requested 3G, quota is 5G" in str(caught.value)
    assert fast.get(vol.id).size == 2 and status(fast, vol.id) == "available" and fast.mem.size(vol.id) == 2 * GIB
    fast.svc.volumes.extend(fast.who, "p1", vol.id, 4)  # 4 + 1 fits in 5
    usage = fast.svc.quotas.show_usage(fast.admin, "p1", "p1")["gigabytes"]
    assert (usage.in_use, usage.reserved) == (5, 0)
    with pytest.raises(Exception, match="VolumeSizeExceedsAvailableQuota"):
        fast.volume(1)  # the extended size counts


def test_a_failed_extend_leaves_error_extending_and_the_old_size(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.mem.inject("extend_volume")
    fault(http.act(vol.id, {"os-extend": {"new_size": 2}}), 500, "computeFault")
    assert status(fast, vol.id) == "error_extending" and fast.get(vol.id).size == 1
    assert fast.mem.size(vol.id) == GIB
    # As in Cinder: an error_extending volume can be deleted (or its status reset).
    r = http.client.delete(f"/v3/p1/volumes/{vol.id}", headers={"X-Auth-Token": http.member})
    assert r.status_code == 202 and not fast.mem.volume_exists(vol.id)


def test_an_extending_volume_takes_no_attachment(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.set_status(vol.id, "extending")
    with pytest.raises(Exception, match="extending"):
        fast.svc.attachments.create(fast.who, "p1", vol.id, connector={"host": "h1"})
    assert fast.get(vol.id).attachments == []


def test_a_backend_that_cannot_extend_says_so(make_fast: Any) -> None:
    fast = make_fast(drivers={"local": MemoryDriver("local"), "plain": PlainDriver("plain")})
    fast.svc.types.create(fast.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    vol = fast.volume(1, volume_type="plain")
    with ActionHttp.serving(fast) as http:
        fault(http.act(vol.id, {"os-extend": {"new_size": 2}}), 400, "badRequest", "cannot extend")
    assert status(fast, vol.id) == "available" and fast.get(vol.id).size == 1


def test_a_reader_may_not_extend_and_the_403_names_the_rule(http: ActionHttp) -> None:
    vol = http.fast.volume(1)
    fault(http.act(vol.id, {"os-extend": {"new_size": 2}}, token=http.reader), 403, "forbidden",
          "volume:extend")
    fault(http.act(vol.id, {"os-extend": {"new_size": 2}}, project="p2"), 403, "forbidden")
    assert http.fast.get(vol.id).size == 1


# -- os-set_bootable and os-update_readonly_flag ---------------------------------------------
def test_set_bootable_shows_as_cinders_string(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    assert http.show(vol.id)["bootable"] == "false"
    r = http.act(vol.id, {"os-set_bootable": {"bootable": True}})
    assert r.status_code == 200 and r.content == b""
    assert http.show(vol.id)["bootable"] == "true" and fast.get(vol.id).bootable
    assert http.act(vol.id, {"os-set_bootable": {"bootable": "False"}}).status_code == 200
    assert http.show(vol.id)["bootable"] == "false"
    attach(fast, vol.id)  # any status will do
    assert http.act(vol.id, {"os-set_bootable": {"bootable": "yes"}}).status_code == 200
    assert http.show(vol.id)["bootable"] == "true"
    for bad in ("maybe", 1, None, {}):
        fault(http.act(vol.id, {"os-set_bootable": {"bootable": bad}}), 400, "badRequest")
    fault(http.act(vol.id, {"os-set_bootable": {}}), 400, "badRequest")
    fault(http.act(vol.id, {"os-set_bootable": {"bootable": False}}, token=http.reader), 403, "forbidden",
          "volume:update")
    assert http.show(vol.id)["bootable"] == "true"


def test_readonly_flag_only_on_available_volumes_and_shown_in_metadata(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, metadata={"k": "v"})
    assert http.show(vol.id)["metadata"] == {"k": "v"}  # never set: not shown, as in Cinder
    r = http.act(vol.id, {"os-update_readonly_flag": {"readonly": True}})
    assert r.status_code == 202
    assert http.show(vol.id)["metadata"] == {"k": "v", "readonly": "True"}
    # The user's metadata API doesn't see or lose it.
    assert fast.svc.volumes.set_metadata(fast.who, "p1", vol.id, {}, replace=True) == {}
    assert http.show(vol.id)["metadata"] == {"readonly": "True"}
    fault(http.act(vol.id, {"os-update_readonly_flag": {"readonly": "x"}}), 400, "badRequest")
    fault(http.act(vol.id, {"os-update_readonly_flag": {"readonly": False}}, token=http.reader), 403,
          "forbidden", "volume:update_readonly_flag")
    attach(fast, vol.id)
    fault(http.act(vol.id, {"os-update_readonly_flag": {"readonly": False}}), 400, "badRequest",
          "must be available to update readonly flag", "in-use")
    assert fast.get(vol.id).readonly is True


def test_a_read_only_volume_is_attached_read_only(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    assert http.act(vol.id, {"os-update_readonly_flag": {"readonly": True}}).status_code == 202
    with pytest.raises(Exception, match="Invalid attaching mode 'rw'"):
        fast.svc.attachments.create(fast.who, "p1", vol.id, connector={"host": "h1"}, mode=AttachMode.RW)
    r = http.act(vol.id, {"os-initialize_connection": {"connector": {"host": "h1"}}})
    assert r.status_code == 200 and r.json()["connection_info"]["data"]["access_mode"] == "ro"
    [a] = fast.get(vol.id).attachments
    assert a.mode is AttachMode.RO
    fast.svc.attachments.delete(fast.who, "p1", a.id)
    assert http.act(vol.id, {"os-update_readonly_flag": {"readonly": False}}).status_code == 202
    a2 = fast.svc.attachments.create(fast.who, "p1", vol.id, connector={"host": "h1"})
    assert a2.mode is AttachMode.RW
    assert http.show(vol.id)["metadata"] == {"readonly": "False"}


# -- os-reset_status and os-force_delete (admins) ---------------------------------------------
def test_reset_status_is_for_admins_and_sets_what_it_is_given(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fault(http.act(vol.id, {"os-reset_status": {"status": "error"}}), 403, "forbidden",
          "volume_extension:volume_admin_actions:reset_status")
    assert status(fast, vol.id) == "available"
    assert http.act(vol.id, {"os-reset_status": {"status": "ERROR"}}, token=http.admin).status_code == 202
    assert status(fast, vol.id) == "error"
    r = http.act(vol.id, {"os-reset_status": {"migration_status": "migrating"}}, token=http.admin)
    assert r.status_code == 202 and status(fast, vol.id) == "error"
    assert http.show(vol.id)["migration_status"] == "migrating"
    assert http.act(vol.id, {"os-reset_status": {"migration_status": "none", "status": "available"}},
                    token=http.admin).status_code == 202
    assert http.show(vol.id)["migration_status"] is None and status(fast, vol.id) == "available"
    for bad in ({}, {"status": "on-fire"}, {"attach_status": "half"}, {"migration_status": "done"},
                {"status": 3}, {"nope": "error"}, {"status": ""}):
        fault(http.act(vol.id, {"os-reset_status": bad}, token=http.admin), 400, "badRequest")
    assert status(fast, vol.id) == "available"


def test_reset_attach_status_detached_ends_every_attachment(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    attach(fast, vol.id)
    info = fast.get(vol.id).attachments[0].connection_info
    assert info is not None
    fast.mem.connect(info)  # served
    r = http.act(vol.id, {"os-reset_status": {"attach_status": "detached"}}, token=http.admin)
    assert r.status_code == 202
    assert fast.get(vol.id).attachments == [] and status(fast, vol.id) == "available"
    with pytest.raises(Exception, match="not served"):
        fast.mem.connect(info)
    # With a status, the status given wins.
    attach(fast, vol.id)
    assert http.act(vol.id, {"os-reset_status": {"attach_status": "detached", "status": "error"}},
                    token=http.admin).status_code == 202
    assert fast.get(vol.id).attachments == [] and status(fast, vol.id) == "error"


def test_force_delete_takes_any_status_but_not_attached_volumes(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fast.set_status(vol.id, "extending")
    fault(http.act(vol.id, {"os-force_delete": {}}), 403, "forbidden",
          "volume_extension:volume_admin_actions:force_delete")
    r = http.client.delete(f"/v3/p1/volumes/{vol.id}", headers={"X-Auth-Token": http.member})
    fault(r, 400, "badRequest", "extending")
    assert http.act(vol.id, {"os-force_delete": None}, token=http.admin).status_code == 202
    assert vol.id not in fast.volume_ids() and not fast.mem.volume_exists(vol.id)
    for s in ("creating", "error", "maintenance", "detaching"):
        other = fast.volume(1)
        fast.set_status(other.id, s)
        assert http.act(other.id, {"os-force_delete": {}}, token=http.admin).status_code == 202, s
        assert other.id not in fast.volume_ids()
    used = fast.volume(1)
    attach(fast, used.id)
    fault(http.act(used.id, {"os-force_delete": {}}, token=http.admin), 400, "badRequest", "attached")
    assert status(fast, used.id) == "in-use" and fast.mem.volume_exists(used.id)
    gone = http.act("no-such-volume", {"os-force_delete": {}}, token=http.admin)
    fault(gone, 404, "itemNotFound")


# -- os-reserve, os-unreserve, os-begin_detaching, os-roll_detaching ------------------------
def test_reserve_and_unreserve(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    assert http.act(vol.id, {"os-reserve": None}).status_code == 202
    assert status(fast, vol.id) == "attaching"
    fault(http.act(vol.id, {"os-reserve": {}}), 400, "badRequest", "must be available to reserve",
          "status is attaching")
    assert http.act(vol.id, {"os-unreserve": None}).status_code == 202
    assert status(fast, vol.id) == "available"
    assert http.act(vol.id, {"os-unreserve": {}}).status_code == 202  # nothing to do
    assert status(fast, vol.id) == "available"
    fault(http.act(vol.id, {"os-reserve": None}, token=http.reader), 403, "forbidden",
          "volume_extension:volume_actions:reserve")
    fault(http.act(vol.id, {"os-unreserve": None}, token=http.reader), 403, "forbidden",
          "volume_extension:volume_actions:unreserve")


def test_nova_legacy_attach_reserve_connect_attach(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    assert http.act(vol.id, {"os-reserve": None}).status_code == 202
    r = http.act(vol.id, {"os-initialize_connection": {"connector": {"host": "h1"}}})
    assert r.status_code == 200
    assert http.act(vol.id, {"os-attach": {"instance_uuid": "vm-1", "mountpoint": "/dev/vdb"}}).status_code == 202
    assert status(fast, vol.id) == "in-use"
    # unreserve of an in-use volume changes nothing
    assert http.act(vol.id, {"os-unreserve": None}).status_code == 202 and status(fast, vol.id) == "in-use"


def test_begin_and_roll_detaching(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    fault(http.act(vol.id, {"os-begin_detaching": None}), 400, "badRequest",
          "Volume status must be 'in-use' and attach_status must be 'attached'")
    attach(fast, vol.id)
    assert http.act(vol.id, {"os-begin_detaching": None}).status_code == 202
    assert status(fast, vol.id) == "detaching"
    fault(http.act(vol.id, {"os-begin_detaching": {}}), 400, "badRequest")
    assert http.act(vol.id, {"os-roll_detaching": None}).status_code == 202
    assert status(fast, vol.id) == "in-use"
    assert http.act(vol.id, {"os-roll_detaching": None}).status_code == 202  # not detaching: nothing
    assert status(fast, vol.id) == "in-use"
    # Nova's detach: begin_detaching, then os-detach ends it.
    assert http.act(vol.id, {"os-begin_detaching": {}}).status_code == 202
    with pytest.raises(Exception, match="detaching"):  # no new attachment meanwhile
        fast.svc.attachments.create(fast.who, "p1", vol.id, connector={"host": "h2"}, mode=AttachMode.RO)
    assert http.act(vol.id, {"os-detach": {}}).status_code == 202
    assert status(fast, vol.id) == "available" and fast.get(vol.id).attachments == []
    for action in ("os-begin_detaching", "os-roll_detaching"):
        fault(http.act(vol.id, {action: None}, token=http.reader), 403, "forbidden",
              f"volume_extension:volume_actions:{action[3:]}")


def test_detaching_one_of_two_read_only_attachments_leaves_in_use(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1)
    first = attach(fast, vol.id, AttachMode.RO)
    attach(fast, vol.id, AttachMode.RO)
    assert http.act(vol.id, {"os-begin_detaching": None}).status_code == 202
    assert http.act(vol.id, {"os-detach": {"attachment_id": first}}).status_code == 202
    assert status(fast, vol.id) == "in-use"


def test_the_actions_without_options_take_null_or_an_object(http: ActionHttp) -> None:
    vol = http.fast.volume(1)
    for body in ({"os-reserve": "x"}, {"os-reserve": 1}, {"os-reserve": []}):
        fault(http.act(vol.id, body), 400, "badRequest")
    fault(http.act(vol.id, {"os-reserve": None, "os-unreserve": None}), 400, "badRequest", "exactly one")
    assert status(http.fast, vol.id) == "available"


def test_actions_on_another_projects_volume_are_404s(http: ActionHttp) -> None:
    fast = http.fast
    vol = fast.volume(1, project="p2")
    for body in ({"os-extend": {"new_size": 2}}, {"os-reserve": None}, {"os-set_bootable": {"bootable": True}},
                 {"os-update_readonly_flag": {"readonly": True}}, {"os-begin_detaching": None},
                 {"os-roll_detaching": None}, {"os-unreserve": None}):
        fault(http.act(vol.id, body), 404, "itemNotFound")
    assert fast.get(vol.id, "p2").size == 1 and not fast.get(vol.id, "p2").bootable
    assert fast.svc.volumes.get(Principal("p2"), "p2", vol.id).status.value == "available"


# -- storage ---------------------------------------------------------------------------------
def test_the_flags_migration_upgrades_keeps_volumes_and_downgrades_on_sqlite(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0007")
        with engine.begin() as c:
            c.execute(text("INSERT INTO volume_types (id, name, is_public, extra_specs, created_at) "
                           "VALUES ('t', 't', 1, '{}', '2026-01-01')"))
            c.execute(text("INSERT INTO volumes (id, project_id, size, status, volume_type_id, backend, metadata, "
                           "created_at, updated_at) VALUES ('v', 'p', 1, 'available', 't', 'b', '{}', "
                           "'2026-01-01', '2026-01-01')"))
        command.upgrade(cfg, "0008")
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("volumes")}
        assert (columns["bootable"], columns["readonly"], columns["migration_status"]) == (False, True, True)
        with engine.connect() as c:  # an existing volume is not bootable, its readonly flag never set
            assert c.execute(text("SELECT bootable, readonly, migration_status FROM volumes")).one() == (0, None, None)
        # (What later migrations add is left out: 0013's snapshots table and volumes.snapshot_id,
        # 0014's user_id, 0015's volumes.group_id, 0018's volumes.multiattach.)
        assert not [d for d in schema_drift(engine) if "volumes" in repr(d) and "snapshot" not in repr(d)
                    and "multiattach" not in repr(d) and "user_id" not in repr(d) and "group_id" not in repr(d)]
        command.downgrade(cfg, "0007")
        assert "bootable" not in {c["name"] for c in inspect(engine).get_columns("volumes")}
    finally:
        engine.dispose()


def test_a_reserve_nothing_followed_is_given_up_by_the_reaper_and_other_statuses_are_left(http: ActionHttp) -> None:
    from .test_reaper import age, reaper

    fast = http.fast
    reserved, extending, detaching = fast.volume(1), fast.volume(1), fast.volume(1)
    assert http.act(reserved.id, {"os-reserve": None}).status_code == 202
    fast.set_status(extending.id, "extending")
    attach(fast, detaching.id)
    assert http.act(detaching.id, {"os-begin_detaching": None}).status_code == 202
    for vid in (reserved.id, extending.id, detaching.id):
        age(fast, vid)
    assert reaper(fast).run_once() == 1
    assert [status(fast, v) for v in (reserved.id, extending.id, detaching.id)] == \
        ["available", "extending", "detaching"]  # Cinder's: only os-reset_status / os-roll_detaching end these
