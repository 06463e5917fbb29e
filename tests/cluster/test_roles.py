"""The two scale-out roles wired by ``bootstrap.build`` in one process, on the real RabbitMQ,
Redis and tooz: an ``api`` service whose backend is an RPC proxy, and a ``Worker`` service
that owns the (in-memory) driver. Nothing of the api service touches the driver directly:
volumes, attachments and clone flows all cross the broker or the job board.

The same across processes, with Ceph and kill -9, is tests/cluster_dev/."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cluster.boards import JOBS_URL, drop_board
from event_streams import HANG, Call, events_of
from volclone import bootstrap
from volclone.api import create_app, views
from volclone.api.event_stream import StreamOptions
from volclone.backends.memory import MemoryDriver
from volclone.cluster.rpc import RpcClient
from volclone.config import Settings
from volclone.domain import CloneRequest, Principal, VolumeStatus
from volclone.errors import BackendUnavailable, Conflict, InsufficientStorage
from volclone.flows.model import Step
from volclone.service import Service
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES

RABBIT = "rabbit://guest:guest@127.0.0.1:5672/"
WHO = Principal("p1", roles=MEMBER_ROLES)
ADMIN = Principal("admin", is_admin=True, roles=ADMIN_ROLES)


@dataclass
class Roles:
    api: Service
    worker: Service
    mem: MemoryDriver
    backend: str
    settings: Settings
    rpc: RpcClient

    def another_api(self) -> Service:
        """One more ``api`` service on the same database, board and broker (stopped by the fixture)."""
        api = bootstrap.build(self.settings, drivers={self.backend: self.rpc.driver(self.backend, MemoryDriver)},
                              role="api")
        api.start()
        self.more.append(api)
        return api

    more: list[Service] = field(default_factory=list)


@pytest.fixture
def roles(tmp_path: Path, new_database: Callable[[Path], str]) -> Iterator[Roles]:
    backend = f"r{uuid.uuid4().hex[:10]}"
    coordination = f"redis://127.0.0.1:6379/1?namespace=volclone-test-{backend}&membership_timeout=3&lock_timeout=3"
    settings = Settings(data_dir=tmp_path, database_url=new_database(tmp_path), jobboard_url=JOBS_URL,
                        coordination_url=coordination, transport_url=RABBIT, claim_expiry_s=3, rpc_timeout_s=10,
                        quota_volumes=-1, quota_gigabytes=-1, quota_snapshots=-1)
    mem = MemoryDriver(backend)
    worker = bootstrap.build(settings, drivers={backend: mem}, role=bootstrap.Worker("w1", (backend,)))
    worker.start()
    client = RpcClient(RABBIT, timeout=10)
    api = bootstrap.build(settings, drivers={backend: client.driver(backend, MemoryDriver)}, role="api")
    api.start()
    roles = Roles(api, worker, mem, backend, settings, client)
    yield roles
    for more in roles.more:
        more.stop()
    api.stop()
    client.close()
    worker.stop()
    drop_board(backend)


def test_volumes_attachments_and_clones_cross_to_the_worker(roles: Roles) -> None:
    vols = [roles.api.volumes.create(WHO, "p1", 1, name=f"v{i}") for i in range(3)]
    assert all(roles.mem.volume_exists(v.id) for v in vols)  # made by the worker's driver, over RPC
    task = roles.api.clones.start(WHO, CloneRequest("p1", [v.id for v in vols]))
    roles.api.clones.wait(task, 30)
    progress = roles.api.clones.progress(WHO, "p1", task)
    assert progress.flow_state.value == "SUCCESS"
    clones = set(progress.results.values())
    assert len(clones) == 3 and all(roles.mem.volume_exists(c) for c in clones)
    att = roles.api.attachments.create(WHO, "p1", vols[0].id, connector={"host": "h1"})
    assert att.connection_info is not None and att.connection_info["data"]["access_mode"] == "rw"
    roles.api.attachments.delete(WHO, "p1", att.id)
    for v in vols[1:]:
        roles.api.volumes.delete(WHO, "p1", v.id)
        assert not roles.mem.volume_exists(v.id)


def test_a_dry_run_on_the_api_role_is_answered_by_the_workers_driver(roles: Roles) -> None:
    full = roles.api.types.create(ADMIN, f"full-{roles.backend}", extra_specs={
        "volume_backend_name": roles.backend, "clone_mode": "full"})
    vol = roles.api.volumes.create(WHO, "p1", 1, name="planned", volume_type=full.id)
    roles.mem.write(vol.id, 0, b"x" * 65536)
    before = (roles.mem.state(), roles.api.volumes.list(WHO, "p1"))
    plan = roles.api.clones.plan(WHO, CloneRequest("p1", [vol.id]))
    assert (roles.mem.state(), roles.api.volumes.list(WHO, "p1")) == before
    [clone] = plan.clones
    assert (clone.name, clone.method, clone.bytes_to_copy) == ("clone-planned", "full", 65536)
    assert plan.consistency_method == clone.consistency_method == "in-memory"  # the worker's driver's
    roles.api.volumes.delete(WHO, "p1", vol.id)


def test_another_api_process_streams_a_clone_it_never_saw_from_persistence(roles: Roles) -> None:
    """get_progress's event stream (docs/events.md) through an API service other than the one
    that took the POST, while the worker runs the flow: it reads the persisted flow, not memory."""
    vols = [roles.api.volumes.create(WHO, "p1", 1, name=f"s{i}") for i in range(2)]
    gate = threading.Event()
    roles.mem.inject("clone_from_group_snapshot", lambda: gate.wait(HANG))  # held in its clone step
    task = roles.api.clones.start(WHO, CloneRequest("p1", [v.id for v in vols]))
    other = roles.another_api()
    app = create_app(other, manage_lifecycle=False, event_streams=StreamOptions(poll_s=0.05))
    call = Call(app, {"accept": "text/event-stream", "x-auth-token": other.auth.create_token("p1", MEMBER_ROLES)},
                f"action=clone-volumes&task_id={task}")

    async def follow() -> None:
        running = asyncio.create_task(call.run())
        step = Step.CREATE_GROUP_CLONE.task_name(task)
        await call.until(f'"task":"{step}","state":"RUNNING"'.encode())
        gate.set()
        await asyncio.wait_for(running, HANG)

    try:
        asyncio.run(follow())
    finally:
        gate.set()
    events = events_of(call.body)
    clone_step = [e["data"]["state"] for e in events if e.get("event") == "state"
                  and e["data"]["task"].startswith("create_group_clone")]
    assert clone_step == ["PENDING", "RUNNING", "SUCCESS"]
    assert events[-1]["event"] == "end" and events[-1]["data"]["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert events[-1]["data"] == views.progress(roles.api.clones.progress(WHO, "p1", task))


def test_a_workers_error_is_the_apis_error_and_leaves_no_row(roles: Roles) -> None:
    roles.mem.inject("create_volume", InsufficientStorage("the pool is full"))
    with pytest.raises(InsufficientStorage, match="the pool is full"):
        roles.api.volumes.create(WHO, "p1", 1, name="full")
    assert [v for v in roles.api.volumes.list(WHO, "p1") if v.name == "full"] == []


def test_extend_crosses_to_the_worker_and_its_failure_is_error_extending(roles: Roles) -> None:
    vol = roles.api.volumes.create(WHO, "p1", 1, name="grow")
    assert roles.api.volumes.extend(WHO, "p1", vol.id, 2).size == 2
    assert roles.mem.size(vol.id) == 2 * 1024**3  # grown by the worker's driver, over RPC
    roles.mem.inject("extend_volume", InsufficientStorage("the pool is full"))
    with pytest.raises(InsufficientStorage, match="the pool is full"):
        roles.api.volumes.extend(WHO, "p1", vol.id, 3)
    failed = roles.api.volumes.get(WHO, "p1", vol.id)
    assert (failed.status, failed.size) == (VolumeStatus.ERROR_EXTENDING, 2)
    roles.api.volumes.delete(WHO, "p1", vol.id)


def test_the_worker_is_listed_up_then_down_when_it_stops(roles: Roles) -> None:
    [listed] = [s for s in roles.api.services.list(ADMIN) if s.record.backend == roles.backend]
    assert listed.up and listed.record.name == "w1"
    roles.worker.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [listed] = [s for s in roles.api.services.list(ADMIN) if s.record.backend == roles.backend]
        if not listed.up:
            break
        time.sleep(0.2)
    assert not listed.up  # it left the tooz group: down at once, not after the heartbeat's 60 s
    roles.worker.start()  # (the fixture stops it again)


def test_while_no_worker_serves_a_backend_its_requests_fail_at_once_and_make_nothing(roles: Roles) -> None:
    """503 at once (tooz says nobody serves it), not after the RPC timeout; a clone is not posted
    to wait for a worker that may never come."""
    vols = [roles.api.volumes.create(WHO, "p1", 1) for _ in range(2)]
    roles.worker.stop()
    time.sleep(1.2)  # the API asks tooz at most once a second
    before = roles.mem.state()
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="no worker that serves it is running"):
        roles.api.clones.start(WHO, CloneRequest("p1", [v.id for v in vols]))
    with pytest.raises(BackendUnavailable):
        roles.api.volumes.create(WHO, "p1", 1, name="nobody")
    assert time.monotonic() - started < 5  # not the 10 s RPC timeout
    assert roles.mem.state() == before and [v for v in roles.api.volumes.list(WHO, "p1") if v.name == "nobody"] == []
    assert all(roles.api.volumes.get(WHO, "p1", v.id).status is VolumeStatus.AVAILABLE for v in vols)
    roles.worker.start()
    time.sleep(1.2)
    task = roles.api.clones.start(WHO, CloneRequest("p1", [v.id for v in vols]))
    roles.api.clones.wait(task, 30)
    assert roles.api.clones.progress(WHO, "p1", task).flow_state.value == "SUCCESS"


def test_the_local_pool_has_one_worker(tmp_path: Path, new_database: Callable[[Path], str]) -> None:
    namespace = f"volclone-test-{uuid.uuid4().hex}"
    settings = Settings(data_dir=tmp_path, database_url=new_database(tmp_path), jobboard_url=JOBS_URL,
                        coordination_url=f"redis://127.0.0.1:6379/1?namespace={namespace}&membership_timeout=3"
                                         "&lock_timeout=3", transport_url=RABBIT, claim_expiry_s=3)
    first = bootstrap.build(settings, drivers={"local": MemoryDriver("local")}, role=bootstrap.Worker("w1", ("local",)))
    first.start()
    try:
        second = bootstrap.build(settings, drivers={"local": MemoryDriver("local")},
                                 role=bootstrap.Worker("w2", ("local",)))
        with pytest.raises(Conflict, match="served by another worker"):
            second.start()
        second.stop()
    finally:
        first.stop()
    again = bootstrap.build(settings, drivers={"local": MemoryDriver("local")}, role=bootstrap.Worker("w2", ("local",)))
    again.start()  # the first one stopped: its lock is free
    again.stop()
