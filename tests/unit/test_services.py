"""The services list (Cinder's os-services) on the whole in-process service: the service lists
itself, workers' heartbeats are rows per backend, filters, up/down by heartbeat age and by
membership, admins only, concurrent heartbeats, and the services table's migration."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect

from volclone.api import views
from volclone.config import Settings
from volclone.db.database import alembic_config, current_revision, make_engine, schema_drift
from volclone.db.schema import utcnow
from volclone.domain import Principal
from volclone.errors import Forbidden
from volclone.service.auth import MEMBER_ROLES, READER_ROLES
from volclone.service.services import LIST_RULE, ServiceDirectory

from .conftest import Fast

ME = socket.gethostname()


def listed(fast: Fast, directory: ServiceDirectory | None = None, **filters: Any) -> dict[str, str]:
    """host -> state, as the admin lists them."""
    rows = (directory or fast.svc.services).list(fast.admin, **filters)
    return {s.record.host: "up" if s.up else "down" for s in rows}


def age(fast: Fast, worker: str, seconds: float) -> None:
    """Make the worker's last heartbeat ``seconds`` old."""
    then = utcnow() - dt.timedelta(seconds=seconds)
    assert fast.db_execute("UPDATE services SET heartbeat_at = ? WHERE name = ?", then, worker) >= 1


def test_the_service_lists_itself_with_its_backends_and_as_the_scheduler(fast):
    [me] = fast.svc.services.list(fast.admin, binary="cinder-volume")
    assert (me.record.name, me.record.hostname, me.record.backend, me.up) == (ME, ME, "local", True)
    [scheduler] = fast.svc.services.list(fast.admin, binary="cinder-scheduler")
    assert views.service(scheduler, with_cluster=True) == {
        "binary": "cinder-scheduler", "host": ME, "zone": "nova", "status": "enabled", "state": "up",
        "updated_at": views.service(scheduler, with_cluster=True)["updated_at"], "disabled_reason": None,
        "cluster": None}
    body = views.service(me, with_cluster=True)
    assert body == {"binary": "cinder-volume", "host": f"{ME}@local", "zone": "nova", "status": "enabled",
                    "state": "up", "updated_at": body["updated_at"], "disabled_reason": None, "cluster": None,
                    "replication_status": "not-capable", "active_backend_id": None, "frozen": False}
    assert dt.datetime.fromisoformat(body["updated_at"]) <= utcnow()
    assert "cluster" not in views.service(me, with_cluster=False)  # below microversion 3.7
    assert "backend_state" not in body  # below 3.49
    assert views.service(me, with_cluster=True, with_backend_state=True)["backend_state"] == "up"
    down = dataclasses.replace(me, up=False)
    assert views.service(down, with_cluster=True, with_backend_state=True)["backend_state"] == "down"


def test_workers_are_listed_per_backend_and_filtered_by_host_and_binary(fast):
    services = fast.svc.services
    services.heartbeat("w1", "node1", ["ceph", "local"])
    services.heartbeat("w2", "node2", ["local"])
    everyone = {f"{ME}@local": "up", "w1@ceph": "up", "w1@local": "up", "w2@local": "up"}
    assert listed(fast) == {**everyone, ME: "up"}  # and this process, the scheduler
    assert listed(fast, host="w1") == {"w1@ceph": "up", "w1@local": "up"}  # a worker: all its backends
    assert listed(fast, host="w1@ceph") == {"w1@ceph": "up"}
    assert listed(fast, host="w1@nothing") == listed(fast, host="node1") == listed(fast, host="w") == {}
    assert listed(fast, binary="cinder-volume") == everyone
    assert listed(fast, binary="volclone-volume") == everyone  # the older name, an alias
    assert listed(fast, binary="cinder-backup") == {}
    assert listed(fast, host="w2", binary="volclone-volume") == listed(fast, host="w2", binary="cinder-volume") \
        == {"w2@local": "up"}
    [row] = services.list(fast.admin, host="w2")
    assert row.record.hostname == "node2"


def test_a_service_is_down_once_its_heartbeat_is_older_than_the_down_time(make_fast):
    fast = make_fast(service_down_time_s=60)
    services = fast.svc.services
    services.heartbeat("w1", "node1", ["local"])
    services.heartbeat("w2", "node2", ["local"])
    age(fast, "w1", 50)
    age(fast, "w2", 70)
    assert listed(fast, host="w1") == {"w1@local": "up"}
    assert listed(fast, host="w2") == {"w2@local": "down"}
    services.heartbeat("w2", "node2", ["local"])  # it beats again: up
    assert listed(fast, host="w2") == {"w2@local": "up"}
    shorter = make_fast(service_down_time_s=30)
    shorter.svc.services.heartbeat("w3", "node3", ["local"])
    age(shorter, "w3", 40)
    assert listed(shorter, host="w3") == {"w3@local": "down"}


def test_a_worker_that_is_not_a_member_is_down_however_fresh_its_heartbeat(fast):
    services = fast.svc.services
    services.heartbeat("w1", "node1", ["local"])
    services.heartbeat("w2", "node2", ["local", "ceph"])
    group = ServiceDirectory(services.records, 60, members=lambda: {"w1"})
    assert listed(fast, group, host="w1") == {"w1@local": "up"}
    assert listed(fast, group, host="w2") == {"w2@ceph": "down", "w2@local": "down"}
    age(fast, "w1", 120)
    assert listed(fast, group, host="w1") == {"w1@local": "down"}  # a member whose heartbeat is old

    def unreachable() -> set[str]:
        raise OSError("the coordination group can't be read")

    services.heartbeat("w1", "node1", ["local"])
    assert listed(fast, ServiceDirectory(services.records, 60, members=unreachable), host="w1") == \
        {"w1@local": "down"}


def test_only_admins_list_the_services(fast):
    for who in (fast.who, Principal("p1", roles=READER_ROLES), Principal("p1", roles=MEMBER_ROLES)):
        with pytest.raises(Forbidden, match=f"Policy doesn't allow {LIST_RULE} to be performed"):
            fast.svc.services.list(who)
    assert fast.svc.services.list(fast.admin)


def test_a_restarted_worker_keeps_one_row_per_backend_with_its_new_start(fast):
    services = fast.svc.services
    first = utcnow() - dt.timedelta(hours=1)
    services.heartbeat("w1", "node1", ["local"], started_at=first)
    services.heartbeat("w1", "node1", ["local"])  # a periodic beat keeps the start
    assert fast.db_rows("SELECT started_at FROM services WHERE name = 'w1'") == [(_db_time(fast, first),)]
    services.heartbeat("w1", "node9", ["local", "ceph"], started_at=utcnow())  # restarted elsewhere, more backends
    rows = fast.db_rows("SELECT backend, host, started_at FROM services WHERE name = 'w1' ORDER BY backend")
    assert [(b, h) for b, h, _ in rows] == [("ceph", "node9"), ("local", "node9")]
    assert all(_parsed(s) > first for _, _, s in rows)


def _db_time(fast: Fast, t: dt.datetime) -> Any:
    return t.isoformat(sep=" ") if fast.db_url.startswith("sqlite") else t


def _parsed(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def test_concurrent_heartbeats_neither_fail_nor_duplicate(fast):
    """Many workers, each beating from several threads at once (the same rows inserted and
    updated concurrently): one upsert statement, no read first, so nothing fails."""
    services = fast.svc.services
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def beat(worker: str) -> None:
        try:
            start.wait(10)
            for _ in range(10):
                services.heartbeat(worker, "node", ["local", "ceph"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=beat, args=(f"w{n % 4}",)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    rows = fast.db_rows("SELECT name, backend FROM services WHERE name <> ? ORDER BY name, backend", ME)
    assert rows == [(f"w{n}", b) for n in range(4) for b in ("ceph", "local")]


def test_the_heartbeat_beats_at_start_then_periodically_until_stopped(fast):
    services = fast.svc.services
    served = ["local"]
    beat = services.heartbeater("w1", "node1", lambda: served, interval=0.05)
    beat.start()
    try:
        assert listed(fast, host="w1") == {"w1@local": "up"}  # at once, not after the interval
        served.append("ceph")
        deadline = time.monotonic() + 10
        while "w1@ceph" not in listed(fast, host="w1"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        beat.stop()
    age(fast, "w1", 600)
    time.sleep(0.2)  # stopped: no beat renews it
    assert set(listed(fast, host="w1").values()) == {"down"}


def test_the_down_time_is_cinders_by_default_and_configurable():
    assert Settings().service_down_time_s == Settings.from_env({}).service_down_time_s == 60
    assert Settings.from_env({"VOLCLONE_SERVICE_DOWN_TIME": "15"}).service_down_time_s == 15
    with pytest.raises(ValueError, match="VOLCLONE_SERVICE_DOWN_TIME"):
        Settings.from_env({"VOLCLONE_SERVICE_DOWN_TIME": "0"})


def test_the_services_migration_upgrades_and_downgrades_on_sqlite(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0006")
        assert "services" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "0007")
        assert current_revision(engine) == "0007"
        columns = {c["name"]: c["nullable"] for c in inspect(engine).get_columns("services")}
        assert columns == {"name": False, "binary": False, "backend": False, "host": False,
                           "started_at": False, "heartbeat_at": False}
        assert inspect(engine).get_pk_constraint("services")["constrained_columns"] == ["name", "binary", "backend"]
        assert not [d for d in schema_drift(engine) if "services" in repr(d) and "'disabled'" not in repr(d)
                    and "'frozen'" not in repr(d) and "disabled_reason" not in repr(d)]  # (0020's columns)
        command.downgrade(cfg, "0006")
        assert "services" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
