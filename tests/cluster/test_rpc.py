"""The RPC layer between the API role and the workers, through the machine's real RabbitMQ.

Every backend name holds a uuid, so parallel runs never share a topic; the queues a test
declared are deleted when it ends. The servers run in this process, in front of MemoryDrivers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import kombu
import pytest

from plain import PlainDriver
from volclone import errors
from volclone.backends.base import (
    Attachable,
    CloneMethod,
    ClonePlannable,
    Extendable,
    Flattenable,
    GroupSnapshot,
    GroupSnapshotCapable,
    GroupSnapshottable,
    QosLimitable,
    SnapshotReadable,
    Snapshottable,
    VolumeDriver,
    VolumeImportable,
    supports_group_snapshots,
)
from volclone.backends.local.qsd import QMPCommandError
from volclone.backends.memory import MemoryDriver
from volclone.backends.rbd.driver import RbdDriver
from volclone.cluster.rpc import CAPABILITIES, RpcClient, RpcServer, topic

URL = "amqp://guest:guest@127.0.0.1:5672/"
#: Every class of volclone's error hierarchy: each must arrive as itself.
ERROR_CLASSES = sorted((c for c in vars(errors).values()
                        if isinstance(c, type) and issubclass(c, errors.VolcloneError)), key=lambda c: c.__name__)


class AttachOnly(PlainDriver, Attachable):
    """A driver class with one capability."""

    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        return {"driver_volume_type": "plain", "data": {"volume_id": volume_id}}

    def terminate_connection(self, volume_id: str) -> None:
        pass


@pytest.fixture(scope="module")
def queues() -> Iterator[list[str]]:
    """Names of the topics tests listened on; their queues are deleted at the end of the module."""
    names: list[str] = []
    yield names
    with kombu.Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        channel = conn.channel()
        for name in names:
            for queue in (name, *(f"{name}.{w}" for w in ("w1", "w2"))):
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue)


@pytest.fixture(scope="module")
def backend_name(queues: list[str]) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    queues.append(topic(name))
    return name


@pytest.fixture()
def new_backend(queues: list[str]) -> Callable[[], str]:
    def make() -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        queues.append(topic(name))
        return name
    return make


@pytest.fixture(scope="module")
def memory(backend_name: str) -> Iterator[MemoryDriver]:
    """A MemoryDriver served by one worker for the whole module."""
    driver = MemoryDriver(backend_name)
    server = RpcServer(URL, "w1", "host-1", {backend_name: driver})
    server.start()
    yield driver
    server.stop()


@pytest.fixture(scope="module")
def client() -> Iterator[RpcClient]:
    c = RpcClient(URL, timeout=10)
    yield c
    c.close()


@contextlib.contextmanager
def serving(drivers: Mapping[str, VolumeDriver], worker: str = "w1",
            lock: Callable[[str], contextlib.AbstractContextManager[object]] | None = None) -> Iterator[RpcServer]:
    server = RpcServer(URL, worker, f"host-{worker}", drivers, lock)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the proxy ---------------------------------------------------------------------------------
@pytest.mark.parametrize("driver_class", [MemoryDriver, PlainDriver, AttachOnly])
def test_proxy_has_exactly_the_capabilities_of_its_driver_class(client: RpcClient, driver_class: type) -> None:
    proxy = client.driver(f"caps-{driver_class.__name__}", driver_class)
    for capability in CAPABILITIES:
        assert isinstance(proxy, capability) == issubclass(driver_class, capability), capability
    assert supports_group_snapshots(proxy) == (driver_class is MemoryDriver)
    assert client.driver(f"caps-{driver_class.__name__}", driver_class) is proxy  # one proxy per backend


def test_clone_flow_methods_refuse_on_the_proxy(client: RpcClient) -> None:
    proxy = client.driver("refuse", MemoryDriver)
    assert isinstance(proxy, GroupSnapshotCapable) and isinstance(proxy, SnapshotReadable)
    assert isinstance(proxy, VolumeImportable)
    snap = GroupSnapshot("s", {"a": "a"})
    calls: list[Callable[[], object]] = [
        lambda: proxy.create_group_snapshot("s", ["a"]), lambda: proxy.find_group_snapshot("s"),
        lambda: proxy.delete_group_snapshot("s"), lambda: proxy.clone_from_group_snapshot(snap, {"a": "c"}),
        lambda: proxy.open_snapshot_member(snap, "a"), lambda: proxy.import_volume("c", 1024),
        lambda: proxy.swap_in("a", "a.revert-1", "a.before-1"),
        lambda: proxy.swap_back("a", "a.revert-1", "a.before-1")]
    for call in calls:
        with pytest.raises(NotImplementedError, match="runs only in a worker"):
            call()


def test_round_trip(client: RpcClient, memory: MemoryDriver, backend_name: str) -> None:
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, Attachable) and isinstance(proxy, Flattenable)
    vid = uuid.uuid4().hex
    assert not proxy.volume_exists(vid)
    proxy.create_volume(vid, 2)
    assert memory.volume_exists(vid) and memory.size(vid) == 2 * 1024**3
    assert proxy.volume_exists(vid)
    info = proxy.initialize_connection(vid, writable=True)
    assert info == memory.connection_info(vid)
    memory.connect(info).write(0, b"x")  # the worker serves it
    proxy.terminate_connection(vid)
    with pytest.raises(errors.BackendError, match="not served"):
        memory.connect(info)
    assert proxy.flatten(vid) is False  # nothing below it
    proxy.keep_only(set())  # a no-op on the proxy
    proxy.delete_volume(vid)
    assert not memory.volume_exists(vid) and not proxy.volume_exists(vid)


def test_qos_limits_cross_to_the_worker(client: RpcClient, memory: MemoryDriver, backend_name: str) -> None:
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, QosLimitable)
    vid = uuid.uuid4().hex
    proxy.create_volume(vid, 1)
    proxy.set_volume_qos(vid, {"total_iops_sec": 300, "read_bytes_sec": 1 << 20})
    assert memory.volume_qos(vid) == {"total_iops_sec": 300, "read_bytes_sec": 1 << 20}
    assert proxy.volume_qos(vid) == memory.volume_qos(vid)
    proxy.set_volume_qos(vid, {})
    assert memory.volume_qos(vid) == {} == proxy.volume_qos(vid)
    proxy.delete_volume(vid)


def test_extend_crosses_to_the_worker_with_its_errors(client: RpcClient, memory: MemoryDriver,
                                                     backend_name: str, new_backend: Callable[[], str]) -> None:
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, Extendable)
    vid = uuid.uuid4().hex
    proxy.create_volume(vid, 1)
    proxy.extend_volume(vid, 3)
    assert memory.size(vid) == 3 * 1024**3
    with pytest.raises(errors.BackendError, match="can't grow"):
        proxy.extend_volume(vid, 2)  # the driver's own refusal arrives as itself
    assert memory.size(vid) == 3 * 1024**3
    proxy.delete_volume(vid)
    backend = new_backend()
    with serving({backend: PlainDriver(backend)}):
        assert not isinstance(client.driver(backend, PlainDriver), Extendable)
        with pytest.raises(errors.CapabilityMissing, match="cannot extend volume"):
            client.call(backend, "extend_volume", volume_id="v", new_size_gib=2)


def test_snapshots_cross_to_the_worker_with_their_errors(client: RpcClient, memory: MemoryDriver,
                                                         backend_name: str, new_backend: Callable[[], str]) -> None:
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, Snapshottable)
    vid, sid, made = uuid.uuid4().hex, str(uuid.uuid4()), uuid.uuid4().hex
    proxy.create_volume(vid, 1)
    memory.write(vid, 0, b"a" * 4096)
    proxy.create_snapshot(sid, vid)
    assert proxy.snapshot_exists(sid, vid) and memory.snapshot_exists(sid, vid)
    memory.write(vid, 0, b"b" * 4096)
    proxy.create_volume_from_snapshot(made, sid, vid, 2)
    assert memory.read(made, 0, 4096) == b"a" * 4096 and memory.size(made) == 2 * 1024**3
    proxy.revert_to_snapshot(vid, sid)
    assert memory.read(vid, 0, 4096) == b"a" * 4096
    with pytest.raises(errors.BackendError, match="no snapshot"):
        proxy.revert_to_snapshot(vid, "nope")  # the driver's own refusal arrives as itself
    proxy.delete_snapshot(sid, vid)
    assert not proxy.snapshot_exists(sid, vid)
    for v in (vid, made):
        proxy.delete_volume(v)
    backend = new_backend()
    with serving({backend: PlainDriver(backend)}):
        assert not isinstance(client.driver(backend, PlainDriver), Snapshottable)
        with pytest.raises(errors.CapabilityMissing, match="cannot create snapshot"):
            client.call(backend, "create_snapshot", snapshot_id="s", volume_id="v")


def test_group_snapshots_cross_to_the_worker(client: RpcClient, memory: MemoryDriver, backend_name: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, GroupSnapshottable)
    assert isinstance(client.driver(backend_name, RbdDriver), GroupSnapshottable)  # RBD's too
    vids, sids = [uuid.uuid4().hex for _ in range(2)], [str(uuid.uuid4()) for _ in range(2)]
    for v in vids:
        proxy.create_volume(v, 1)
    at_once, seen = memory.create_snapshots_at_once, []

    def spy(members: Any, *, group_snapshot_id: str | None = None) -> None:
        seen.append(group_snapshot_id)
        at_once(members, group_snapshot_id=group_snapshot_id)

    monkeypatch.setattr(memory, "create_snapshots_at_once", spy)
    proxy.create_snapshots_at_once(list(zip(vids, sids, strict=True)), group_snapshot_id="gs-1")
    assert seen == ["gs-1"]  # the group snapshot's id crosses (RBD names its group after it)
    assert all(memory.snapshot_exists(s, v) for v, s in zip(vids, sids, strict=True))
    with pytest.raises(errors.BackendError, match="only once"):
        proxy.create_snapshots_at_once([(vids[0], "x"), (vids[0], "y")])  # the driver's refusal arrives
    for v, s in zip(vids, sids, strict=True):
        proxy.delete_snapshot(s, v)
        proxy.delete_volume(v)


def test_max_size_is_asked_once(client: RpcClient, memory: MemoryDriver, backend_name: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "max_size_gib", 7, raising=False)
    proxy = RpcClient(URL, timeout=10)
    try:
        driver = proxy.driver(backend_name, MemoryDriver)
        assert driver.max_size_gib == 7
        monkeypatch.setattr(memory, "max_size_gib", 8, raising=False)
        assert driver.max_size_gib == 7
    finally:
        proxy.close()


def test_a_dry_runs_questions_cross_to_the_worker(client: RpcClient, memory: MemoryDriver, backend_name: str,
                                                 new_backend: Callable[[], str]) -> None:
    """How the backend clones, what its volumes hold and how it takes a consistent point: the
    worker's driver answers (the API process has no driver of its own), changing nothing."""
    proxy = client.driver(backend_name, MemoryDriver)
    assert isinstance(proxy, ClonePlannable) and isinstance(proxy, GroupSnapshotCapable)
    assert proxy.consistency_method == memory.consistency_method == "in-memory"
    assert (proxy.clone_method_for(False), proxy.clone_method_for(True)) == (CloneMethod.LINKED, CloneMethod.FULL)
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    for vid in (a, b):
        memory.create_volume(vid, 1)
    memory.write(b, 0, b"x" * 200_000)
    before = memory.state()
    assert proxy.allocated_bytes([a, b]) == memory.allocated_bytes([a, b]) == {a: 0, b: 4 * 65536}
    assert memory.state() == before
    with pytest.raises(errors.BackendError, match="no volume"):
        proxy.allocated_bytes([uuid.uuid4().hex])
    for vid in (a, b):
        memory.delete_volume(vid)
    backend = new_backend()
    with serving({backend: PlainDriver(backend)}):
        assert not isinstance(client.driver(backend, PlainDriver), ClonePlannable)
        with pytest.raises(errors.CapabilityMissing, match="cannot allocated bytes"):
            client.call(backend, "allocated_bytes", volume_ids=["v"])


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_volclone_errors_arrive_as_the_same_class(client: RpcClient, memory: MemoryDriver, backend_name: str,
                                                  error_class: type[errors.VolcloneError]) -> None:
    memory.inject("create_volume", error_class(f"it failed: {error_class.__name__}"))
    with pytest.raises(errors.VolcloneError) as caught:
        client.driver(backend_name, MemoryDriver).create_volume(uuid.uuid4().hex, 1)
    assert type(caught.value) is error_class
    assert caught.value.message == f"it failed: {error_class.__name__}"


@pytest.mark.parametrize(("error", "status"), [(errors.InsufficientStorage("pool full"), 507),
                                               (errors.NotFound("no such volume"), 404),
                                               (errors.BadRequest("bad size"), 400),
                                               (errors.BackendUnavailable("cluster down"), 503)])
def test_errors_keep_their_http_status(client: RpcClient, memory: MemoryDriver, backend_name: str,
                                       error: errors.VolcloneError, status: int) -> None:
    memory.inject("delete_volume", error)
    with pytest.raises(type(error)) as caught:
        client.driver(backend_name, MemoryDriver).delete_volume("v")
    assert caught.value.status == status and str(caught.value) == str(error)


def test_a_drivers_own_subclass_arrives_as_its_nearest_volclone_class(client: RpcClient, memory: MemoryDriver,
                                                                     backend_name: str) -> None:
    memory.inject("create_volume", QMPCommandError("blockdev-add", "GenericError", "no space"))
    with pytest.raises(errors.BackendError) as caught:
        client.driver(backend_name, MemoryDriver).create_volume(uuid.uuid4().hex, 1)
    assert type(caught.value) is errors.BackendError
    assert caught.value.message == "blockdev-add: no space"


def test_other_errors_become_a_backend_error_without_internals(client: RpcClient, memory: MemoryDriver,
                                                               backend_name: str) -> None:
    memory.inject("create_volume", KeyError("/var/lib/volclone/pool/secret.qcow2 token=hunter2"))
    with pytest.raises(errors.BackendError) as caught:
        client.driver(backend_name, MemoryDriver).create_volume(uuid.uuid4().hex, 1)
    assert type(caught.value) is errors.BackendError
    text = str(caught.value)
    assert text == f"backend {backend_name}: an internal error (KeyError; details are in the worker's log)"
    memory.inject("create_volume", PermissionError(13, "Permission denied", "/var/lib/volclone/pool/a.qcow2"))
    with pytest.raises(errors.BackendError) as caught:
        client.driver(backend_name, MemoryDriver).create_volume(uuid.uuid4().hex, 1)
    assert "/var/lib" not in str(caught.value) and "a.qcow2" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_a_worker_refuses_what_its_driver_cannot_do(client: RpcClient, new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    with serving({backend: PlainDriver(backend)}):
        with pytest.raises(errors.CapabilityMissing, match="cannot initialize connection"):
            client.call(backend, "initialize_connection", volume_id="v", writable=True)
        with pytest.raises(errors.CapabilityMissing, match="cannot flatten"):
            client.call(backend, "flatten", volume_id="v")


# -- nobody answers ----------------------------------------------------------------------------
def test_no_worker_is_backend_unavailable_within_the_timeout(new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    short = RpcClient(URL, timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(errors.BackendUnavailable,
                           match=f"^no worker of backend {backend} answered within 0.5 s$"):
            short.driver(backend, MemoryDriver).volume_exists("v")
        assert time.monotonic() - started < 2.0
    finally:
        short.close()


def test_a_call_nobody_took_in_time_never_runs_later(new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    driver = MemoryDriver(backend)
    with serving({backend: driver}):
        pass  # the topic's queue now exists, with no one listening
    short = RpcClient(URL, timeout=0.5)
    try:
        with pytest.raises(errors.BackendUnavailable):
            short.driver(backend, MemoryDriver).create_volume("late", 1)
        time.sleep(0.3)  # past the message's expiry
        with serving({backend: driver}):
            assert short.driver(backend, MemoryDriver).volume_exists("other") is False
            time.sleep(0.3)  # the create, had it been delivered, would run meanwhile
            assert not driver.volume_exists("late")
    finally:
        short.close()


def test_an_unreachable_broker_is_backend_unavailable(new_backend: Callable[[], str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"amqp://guest:guest@127.0.0.1:{port}/"
    down = RpcClient(url, timeout=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(errors.BackendUnavailable, match="message broker can't be reached"):
            down.driver(new_backend(), MemoryDriver).create_volume("v", 1)
        assert time.monotonic() - started < 2.0
    finally:
        down.close()
    with pytest.raises(errors.BackendUnavailable, match="message broker can't be reached"):
        RpcServer(url, "w1", "host-1", {"b": MemoryDriver("b")}).start()


# -- several workers, locks, stopping ------------------------------------------------------------
def test_calls_spread_over_the_workers_of_a_backend(client: RpcClient, new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    driver = MemoryDriver(backend)
    with serving({backend: driver}, "w1"), serving({backend: driver}, "w2"):
        answered = [client.call(backend, "describe")["worker"] for _ in range(20)]
    assert set(answered) == {"w1", "w2"}
    assert min(answered.count("w1"), answered.count("w2")) >= 5, answered


def test_the_volume_lock_is_held_while_a_call_runs(client: RpcClient, new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    driver = MemoryDriver(backend)
    events: list[str] = []

    @contextlib.contextmanager
    def lock(name: str) -> Iterator[None]:
        events.append(f"lock {name}")
        try:
            yield
        finally:
            events.append(f"unlock {name}")

    driver.inject("create_volume", lambda: events.append("create_volume runs"))
    driver.inject("flatten", lambda: events.append("flatten runs"))
    with serving({backend: driver}, lock=lock):
        proxy = client.driver(backend, MemoryDriver)
        proxy.create_volume("v1", 1)
        assert events == ["lock volume-v1", "create_volume runs", "unlock volume-v1"]
        events.clear()
        proxy.flatten("v1")
        proxy.volume_exists("v1")
        client.call(backend, "describe")  # names no volume: no lock
    assert events == ["lock volume-v1", "flatten runs", "unlock volume-v1", "lock volume-v1", "unlock volume-v1"]


def test_stop_waits_for_the_calls_in_flight(client: RpcClient, new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    driver = MemoryDriver(backend)
    driver.create_volume("v1", 1)
    running, release = threading.Event(), threading.Event()
    driver.inject("delete_volume", lambda: (running.set(), release.wait(10)))
    result: list[object] = []
    server = RpcServer(URL, "w1", "host-1", {backend: driver})
    server.start()
    caller = threading.Thread(target=lambda: result.append(client.driver(backend, MemoryDriver).delete_volume("v1")))
    caller.start()
    assert running.wait(10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    time.sleep(0.5)
    assert stopper.is_alive()  # still waiting for delete_volume
    release.set()
    stopper.join(10)
    caller.join(10)
    assert not stopper.is_alive() and result == [None] and not driver.volume_exists("v1")


def test_a_flatten_longer_than_the_timeout_is_waited_for_while_its_worker_runs_it(
        new_backend: Callable[[], str]) -> None:
    backend = new_backend()
    driver = MemoryDriver(backend)
    driver.create_volume("v1", 1)
    driver.inject("flatten", lambda: time.sleep(2.5))
    short = RpcClient(URL, timeout=1.0, flatten_timeout=30)
    try:
        with serving({backend: driver}):
            assert short.driver(backend, MemoryDriver).flatten("v1") is False  # answered after 2.5 s
            driver.inject("delete_volume", lambda: time.sleep(1.5))
            with pytest.raises(errors.BackendUnavailable, match="answered within 1 s"):
                short.driver(backend, MemoryDriver).delete_volume("v1")  # other calls: the timeout
        started = time.monotonic()  # no worker: no heartbeat, so no 30 s wait either
        with pytest.raises(errors.BackendUnavailable, match="answered within 2 s"):
            short.driver(backend, MemoryDriver).flatten("v1")
        assert time.monotonic() - started < 4.0
    finally:
        short.close()
