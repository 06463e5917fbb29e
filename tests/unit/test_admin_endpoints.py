"""The admin endpoints on the whole in-process service: quota classes (the default class is every
project's defaults), the services' enable/disable/freeze/thaw and what they change (placement,
refusals on a frozen backend), os-hosts, and migration 0020."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from volclone.db.database import alembic_config, make_engine, schema_drift
from volclone.domain import Principal
from volclone.errors import BackendUnavailable, BadRequest, OverLimit
from volclone.service.retype import Retyper

from .conftest import Fast
from .http import Http
from .test_volume_actions import fault

ME = socket.gethostname()
SEVEN = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes", "groups", "per_volume_gigabytes")


@pytest.fixture
def http(fast: Fast) -> Iterator[Http]:
    """Every call here is an admin's unless it names another token."""
    with Http.serving(fast) as client:
        yield dataclasses.replace(client, token=client.admin)


def _services(http: Http) -> dict[str, dict[str, Any]]:
    return {s["host"]: s for s in http.ok("GET", "/os-services")["services"]}


# -- quota classes ---------------------------------------------------------------------------
def test_the_default_class_is_the_defaults_and_an_update_changes_projects_without_their_own(make_fast):
    fast = make_fast(quota_volumes=3)
    quotas, classes = fast.svc.quotas, fast.svc.quota_classes
    assert classes is not None
    shown = classes.show("default")
    assert {k: shown[k] for k in SEVEN} == {k: quotas.defaults(fast.admin, "p1", "p1")[k] for k in SEVEN}
    assert shown["volumes"] == 3 and shown["volumes___DEFAULT__"] == -1  # the configured one; a type's: unlimited
    quotas.update(fast.admin, "admin", "p2", {"volumes": 1})  # p2 has a limit of its own
    updated = classes.update("default", {"volumes": 2, "volumes___DEFAULT__": 7})
    assert updated["volumes"] == 2 and updated["volumes___DEFAULT__"] == 7
    assert quotas.defaults(fast.admin, "p1", "p1")["volumes"] == 2
    assert quotas.show(fast.admin, "p1", "p1")["volumes"] == 2  # p1 falls back to the class
    assert quotas.show(fast.admin, "p2", "p2")["volumes"] == 1  # p2 keeps its own
    fast.volume(1)
    fast.volume(1)
    with pytest.raises(OverLimit, match="VolumeLimitExceeded"):  # enforced: the class's 2, not the config's 3
        fast.volume(1)
    # Another class is kept and shown, falling back to the defaults; no project uses it.
    gold = classes.update("gold", {"gigabytes": 5})
    assert gold["gigabytes"] == 5 and gold["volumes"] == 2
    assert quotas.show(fast.admin, "p1", "p1")["gigabytes"] == shown["gigabytes"]


def test_a_new_types_keys_are_in_the_class_and_the_defaults(fast):
    assert fast.svc.quota_classes is not None
    fast.svc.types.create(fast.admin, "gold")
    fast.svc.quota_classes.update("default", {"gigabytes_gold": 9, "snapshots_gold": 0})
    defaults = fast.svc.quotas.defaults(fast.admin, "p1", "p1")
    assert (defaults["gigabytes_gold"], defaults["snapshots_gold"], defaults["volumes_gold"]) == (9, 0, -1)


@pytest.mark.parametrize("body, words", [
    ({"volumes": 1, "nonsense": 2}, "Bad key(s) in quota class set: nonsense"),
    ({"volumes_no-such-type": 1}, "Bad key(s) in quota class set: volumes_no-such-type"),
    ({"volumes": -2}, "volumes must be from -1"),
    ({"volumes": 2**31}, "volumes must be from -1"),
    ({"volumes": "many"}, "volumes must be an integer"),
    ({"volumes": True}, "volumes must be an integer"),
    ({"volumes": None}, "volumes must be an integer"),
    ({"volumes": 5, "gigabytes": [1]}, "gigabytes must be an integer"),
])
def test_a_bad_class_update_is_a_400_and_changes_nothing(http, fast, body, words):
    before = http.ok("GET", "/os-quota-class-sets/default")
    fault(http.call("PUT", "/os-quota-class-sets/default", {"quota_class_set": body}), 400, "badRequest", words)
    assert http.ok("GET", "/os-quota-class-sets/default") == before


def test_quota_classes_over_http_are_admins_only_and_in_cinders_shape(http):
    shown = http.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]
    assert shown["id"] == "default" and set(SEVEN) <= set(shown)
    # python-cinderclient sends class_name; a string of digits is taken, as Cinder's validate_integer takes it
    updated = http.ok("PUT", "/os-quota-class-sets/default",
                      {"quota_class_set": {"class_name": "default", "snapshots": "4"}})["quota_class_set"]
    assert "id" not in updated and updated["snapshots"] == 4
    assert http.ok("GET", "/os-quota-sets/p9/defaults")["quota_set"]["snapshots"] == 4
    for r in (http.call("GET", "/os-quota-class-sets/default", token=http.member),
              http.call("PUT", "/os-quota-class-sets/default", {"quota_class_set": {"volumes": 1}}, http.member)):
        fault(r, 403, "forbidden", "volume_extension:quota_classes")
    fault(http.call("PUT", "/os-quota-class-sets/default", {"nothing": {}}), 400, "badRequest")
    fault(http.call("GET", "/os-quota-class-sets/" + "x" * 256), 400, "badRequest", "1 to 255")


# -- services: disable, enable --------------------------------------------------------------
def test_a_disabled_backend_gets_no_new_volume_until_enabled(http, fast):
    vol = fast.volume(1)
    r = http.ok("PUT", "/os-services/disable-log-reason",
                {"host": f"{ME}@local", "binary": "cinder-volume", "disabled_reason": "maintenance"})
    assert r == {"host": f"{ME}@local", "binary": "cinder-volume", "service": "", "disabled": True,
                 "status": "disabled", "disabled_reason": "maintenance"}
    listed = _services(http)[f"{ME}@local"]
    assert (listed["status"], listed["disabled_reason"], listed["state"]) == ("disabled", "maintenance", "up")
    before = fast.volume_ids()
    with pytest.raises(BackendUnavailable, match="No valid backend was found"):  # no clone
        fast.clone([vol.id])
    assert fast.volume_ids() == before
    # A create is Cinder's "no valid backend": accepted, the volume in error, the driver not asked.
    refused = fast.svc.volumes.create(Principal("p1", user_id="u1"), "p1", 1)
    assert refused.status.value == "error" and not fast.mem.volume_exists(refused.id)
    assert fast.db_rows("SELECT resource_uuid, event_id FROM user_messages") == [
        (refused.id, "VOLUME_VOLUME_001_003")]
    fast.svc.volumes.delete(Principal("p1"), "p1", refused.id)
    fast.svc.volumes.delete(Principal("p1"), "p1", vol.id)  # what is there is still managed
    assert http.ok("PUT", "/os-services/enable", {"host": ME, "service": "volclone-volume"}) == {
        "host": ME, "binary": "", "service": "volclone-volume", "disabled": False, "status": "enabled",
        "disabled_reason": None}
    assert _services(http)[f"{ME}@local"]["status"] == "enabled"
    assert fast.volume(1).status.value == "available"
    # A plain disable keeps the last reason (Cinder sets it only when one is given).
    assert http.ok("PUT", "/os-services/disable", {"host": f"{ME}@local", "binary": "cinder-volume"}) == {
        "host": f"{ME}@local", "binary": "cinder-volume", "service": "", "disabled": True, "status": "disabled"}
    assert _services(http)[f"{ME}@local"]["disabled_reason"] is None  # enable cleared it
    assert fast.svc.volumes.create(Principal("p1"), "p1", 1).status.value == "error"


def test_service_action_faults(http):
    fault(http.call("PUT", "/os-services/enable", {"host": "invalid_host", "binary": "cinder-volume"}), 404,
          "itemNotFound")
    fault(http.call("PUT", "/os-services/disable", {"host": f"{ME}@local", "binary": "invalid_binary"}), 404,
          "itemNotFound")
    for reason in (None, "", "   ", "x" * 256):
        fault(http.call("PUT", "/os-services/disable-log-reason",
                       {"host": f"{ME}@local", "binary": "cinder-volume", "disabled_reason": reason}), 400,
              "badRequest")
    fault(http.call("PUT", "/os-services/disable", {"binary": "cinder-volume"}), 400, "badRequest")  # no host
    fault(http.call("PUT", "/os-services/disable", {"host": ME}), 400, "badRequest", "binary is required")
    fault(http.call("PUT", "/os-services/failover_host", {"host": ME}), 400, "badRequest", "Unknown action")
    fault(http.call("PUT", "/os-services/freeze", {"host": "invalid_host"}), 400, "badRequest")
    fault(http.call("PUT", "/os-services/thaw", {"host": "invalid_host"}), 400, "badRequest")
    fault(http.call("PUT", "/os-services/freeze", {"host": ME, "cluster": "c1"}), 400, "badRequest", "no clusters")
    fault(http.call("PUT", "/os-services/disable", {"host": ME, "binary": "cinder-volume", "cluster": "c1"}), 400,
          "badRequest", "no clusters")
    fault(http.call("PUT", "/os-services/freeze", {"host": ME}, http.member), 403, "forbidden", "volume:freeze_host")
    fault(http.call("PUT", "/os-services/disable", {"host": ME, "binary": "cinder-volume"}, http.member), 403,
          "forbidden", "volume_extension:services:update")
    assert all(s["status"] == "enabled" for s in _services(http).values())


# -- services: freeze, thaw -------------------------------------------------------------------
def test_a_frozen_backends_volumes_take_no_management_operation_until_thawed(http, fast):
    fast.svc.types.create(fast.admin, "other")
    vol = fast.volume(2)
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id) if fast.svc.snapshots else None
    assert snap is not None
    r = http.call("PUT", "/os-services/freeze", {"host": ME})
    assert (r.status_code, r.content) == (200, b"")
    listed = _services(http)[f"{ME}@local"]
    assert (listed["frozen"], listed["status"], listed["disabled_reason"]) == (True, "disabled", "frozen")
    fault(http.call("PUT", "/os-services/freeze", {"host": ME}), 400, "badRequest", "Host is already Frozen")
    before = fast.footprint()
    refusals = [
        lambda: fast.svc.volumes.delete(fast.who, "p1", vol.id),
        lambda: fast.svc.volumes.extend(fast.who, "p1", vol.id, 3),
        lambda: Retyper(fast.svc.volumes).retype(fast.who, "p1", vol.id, "other"),
        lambda: fast.svc.snapshots.create(fast.who, "p1", vol.id),  # type: ignore[union-attr]
        lambda: fast.svc.snapshots.delete(fast.who, "p1", snap.id),  # type: ignore[union-attr]
    ]
    for refused in refusals:
        with pytest.raises(BadRequest, match="which is frozen"):
            refused()
    with pytest.raises(BadRequest, match="which is frozen"):  # a clone snapshots its sources
        fast.clone([vol.id])
    assert fast.footprint() == before
    # frozen is disabled too: no new volume (Cinder's no valid backend: error)
    assert fast.svc.volumes.create(Principal("p1"), "p1", 1).status.value == "error"
    assert fast.get(vol.id).size == 2
    r = http.call("PUT", "/os-services/thaw", {"host": f"{ME}@local"})
    assert (r.status_code, r.content) == (200, b"")
    listed = _services(http)[f"{ME}@local"]
    assert (listed["frozen"], listed["status"]) == (False, "enabled")
    fault(http.call("PUT", "/os-services/thaw", {"host": ME}), 400, "badRequest", "Host is NOT Frozen")
    fast.svc.volumes.extend(fast.who, "p1", vol.id, 3)
    fast.svc.snapshots.delete(fast.who, "p1", snap.id)  # type: ignore[union-attr]
    fast.svc.volumes.delete(fast.who, "p1", vol.id)


# -- os-hosts ---------------------------------------------------------------------------------
def test_hosts_are_the_enabled_services_and_a_volume_hosts_usage_by_project(http, fast):
    fast.volume(2)
    fast.volume(3, project="p2")
    hosts = {h["host_name"]: h for h in http.ok("GET", "/os-hosts")["hosts"]}
    assert set(hosts) == {f"{ME}@local", ME}
    assert hosts[f"{ME}@local"]["service"] == "cinder-volume" and hosts[ME]["service"] == "cinder-scheduler"
    assert {h["service-status"] for h in hosts.values()} == {"available"}
    assert {h["service-state"] for h in hosts.values()} == {"enabled"}
    assert http.ok("GET", "/os-hosts")["hosts"] == http.ok("GET", "/os-hosts?zone=nova")["hosts"]
    assert http.ok("GET", "/os-hosts?zone=elsewhere") == {"hosts": []}
    shown = http.ok("GET", f"/os-hosts/{ME}@local")["host"]
    assert [r["resource"] for r in shown] == [
        {"host": f"{ME}@local", "project": p, "volume_count": n, "total_volume_gb": gb, "snapshot_count": "0",
         "total_snapshot_gb": "0"} for p, n, gb in (("(total)", "2", "5"), ("p1", "1", "2"), ("p2", "1", "3"))]
    fault(http.call("GET", f"/os-hosts/{ME}"), 404, "itemNotFound")  # a scheduler has no volumes
    fault(http.call("GET", "/os-hosts/nowhere@local"), 404, "itemNotFound")
    fault(http.call("GET", "/os-hosts", token=http.member), 403, "forbidden", "volume_extension:hosts")
    http.ok("PUT", "/os-services/disable", {"host": f"{ME}@local", "binary": "cinder-volume"})
    assert [h["host_name"] for h in http.ok("GET", "/os-hosts")["hosts"]] == [ME]  # as Cinder: enabled only
    fault(http.call("GET", f"/os-hosts/{ME}@local"), 404, "itemNotFound")


# -- migration 0020 ---------------------------------------------------------------------------
def _of_0020(drift: list[Any]) -> list[Any]:
    """The drift in what 0020 makes (quota_classes, the services' columns); later migrations'
    tables and columns are not there yet at 0020."""
    return [d for d in drift if "quota_classes" in repr(d) or "'services'" in repr(d)]


def test_migration_0020_matches_the_schema_renames_the_binary_and_downgrades(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0019")
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO services (name, binary, backend, host, started_at, heartbeat_at) "
                                 "VALUES ('w1', 'volclone-volume', 'local', 'n1', '2026-12-02', '2026-12-02')")
        command.upgrade(cfg, "0020")
        assert _of_0020(schema_drift(engine)) == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT binary, disabled, disabled_reason, frozen FROM services").all() == \
                [("cinder-volume", 0, None, 0)]
            conn.exec_driver_sql("INSERT INTO services (name, binary, backend, host, started_at, heartbeat_at) "
                                 "VALUES ('w1', 'cinder-scheduler', '', 'n1', '2026-12-02', '2026-12-02')")
            conn.commit()
        command.downgrade(cfg, "0019")
        assert "quota_classes" not in inspect(engine).get_table_names()
        assert "frozen" not in {c["name"] for c in inspect(engine).get_columns("services")}
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT binary FROM services").all() == [("volclone-volume",)]
        command.upgrade(cfg, "0020")
        assert _of_0020(schema_drift(engine)) == []
    finally:
        engine.dispose()


def test_a_volumes_host_is_its_backends_listed_volume_service(http, fast):
    """Tempest's test_get_service_by_volume_host_name: ``os-vol-host-attr:host`` is
    ``worker@backend#pool`` of a listed cinder-volume service, as Cinder's."""
    vol = fast.volume(1)
    r = http.call("GET", f"/volumes/{vol.id}")
    assert r.status_code == 200, r.text
    host, pool = r.json()["volume"]["os-vol-host-attr:host"].split("#")
    assert (host, pool) == (f"{ME}@local", "local")
    assert _services(http)[host]["binary"] == "cinder-volume"
