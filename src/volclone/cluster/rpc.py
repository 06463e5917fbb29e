"""Backend calls from the API role to the workers that run a backend's driver.

The API process never opens a storage backend: it holds a :class:`RpcClient` and asks it for
a proxy per backend, which IS a :class:`~volclone.backends.base.VolumeDriver` (with exactly
the capabilities of the backend's driver class), so the service layer calls it unchanged::

    client = RpcClient("amqp://guest:guest@127.0.0.1:5672/", timeout=60)
    driver = client.driver("ceph", RbdDriver)         # no message sent yet
    isinstance(driver, Attachable)                     # True: RbdDriver is Attachable
    driver.create_volume("3f2a...", 10)                # one call, answered by one worker

Each worker runs an :class:`RpcServer` with its drivers; it listens on one topic per backend,
``volclone-volume.<backend>``, as server ``<worker>``. RabbitMQ hands each call on a topic to one
of the workers listening on it, in turn. A worker holds the per-volume lock
(``lock("volume-<id>")``, a tooz lock in production) while it runs a call that names a volume.

Errors cross the wire as data, not through oslo.messaging's exception rebuilding (that one
makes a ``<Class>_Remote`` subclass whose ``str()`` carries the worker's traceback, only for
modules listed in ``allowed_remote_exmods``, and only when the class's constructor takes the
message alone). A worker answers every call ``{"ok": result}`` or ``{"error": {"classes":
[...], "message": ...}}``:

* a :class:`~volclone.errors.VolcloneError` travels as the names of its classes that
  ``volclone.errors`` defines, nearest first; the caller raises the first it knows, with the
  same message (a driver's own subclass, e.g. the local driver's ``QMPCommandError``, arrives
  as its nearest ``volclone.errors`` base: the same HTTP status and fault);
* anything else is logged in full on the worker and arrives as a
  :class:`~volclone.errors.BackendError` that names only its kind (an ``OSError`` keeps the
  OS's words, its paths cut to their last part; never a traceback);
* no answer within the timeout (no worker serves the backend, or RabbitMQ can't be reached)
  is :class:`~volclone.errors.BackendUnavailable`. An unanswered call expires in its queue
  with the timeout, so a worker that starts later never runs it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import socket
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import oslo_messaging
from oslo_config import cfg

from volclone import errors
from volclone.backends.base import (
    Attachable,
    ByteProgress,
    CloneMethod,
    ClonePlannable,
    DataSwappable,
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
    VolumeReader,
    VolumeWriter,
)
from volclone.errors import BackendError, BackendUnavailable, CapabilityMissing, VolcloneError, without_paths

log = logging.getLogger(__name__)

#: Every backend's calls go to the topic ``TOPIC_PREFIX.<backend>``.
TOPIC_PREFIX = "volclone-volume"
#: A lock factory: ``lock("volume-<id>")`` is held while a call on that volume runs.
LockFactory = Callable[[str], contextlib.AbstractContextManager[object]]
#: The capability interfaces a proxy carries when its driver class has them.
CAPABILITIES: tuple[type, ...] = (Attachable, ClonePlannable, Extendable, Flattenable, GroupSnapshotCapable,
                                  SnapshotReadable, VolumeImportable, Snapshottable, DataSwappable, QosLimitable,
                                  GroupSnapshottable)

#: The classes an error may arrive as: volclone.errors' own, by name.
_ERRORS: dict[str, type[VolcloneError]] = {
    name: obj for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, VolcloneError)}

T = TypeVar("T")


def topic(backend: str) -> str:
    return f"{TOPIC_PREFIX}.{backend}"


def transport_url(url: str) -> str:
    """oslo.messaging's name for a broker URL: RabbitMQ's own ``amqp://`` scheme is its ``rabbit://``
    (oslo.messaging 18 has no AMQP 1.0 driver left to claim ``amqp://``)."""
    return "rabbit://" + url.removeprefix("amqp://") if url.startswith("amqp://") else url


def _transport(url: str) -> Any:
    """A transport on oslo.config's global configuration, as oslo.messaging expects (it registers
    its tracing and metrics options there only). volclone reads no oslo config file: every
    setting has oslo.messaging's default."""
    return oslo_messaging.get_rpc_transport(cfg.CONF, url=transport_url(url))


def broker_reachable(url: str, timeout: float) -> bool:
    """Whether any broker host of ``url`` takes a TCP connection within ``timeout`` seconds.

    oslo.messaging retries its first connections forever (the caller's reply queue, a server's
    listener) and has no setting to stop it; this probe, before them, turns a broker that is down
    into BackendUnavailable instead of a call that never returns."""
    parsed = oslo_messaging.TransportURL.parse(cfg.CONF, transport_url(url))
    addresses = [(h.hostname or "localhost", h.port or 5672) for h in parsed.hosts] or [("localhost", 5672)]
    for address in addresses:
        try:
            socket.create_connection(address, timeout=timeout).close()
            return True
        except OSError:
            continue
    return False


# -- errors on the wire ----------------------------------------------------------------------
def encode_error(exc: Exception, backend: str) -> dict[str, object]:
    """What the caller will raise for ``exc`` (see the module docstring)."""
    if isinstance(exc, VolcloneError):
        classes = [c.__name__ for c in type(exc).__mro__ if _ERRORS.get(c.__name__) is c]
        return {"classes": classes, "message": getattr(exc, "message", str(exc))}
    if isinstance(exc, OSError):  # the OS's words, as in one process (BackendError cuts its paths)
        return {"classes": ["BackendError"], "message": f"backend {backend}: {without_paths(str(exc))}"}
    # A bug or a library's error: only its kind (its text may hold anything; the worker logs it all).
    return {"classes": ["BackendError"],
            "message": f"backend {backend}: an internal error ({type(exc).__name__}; details are in the worker's log)"}


def decode_error(error: Mapping[str, Any]) -> VolcloneError:
    message = str(error.get("message", ""))
    for name in error.get("classes") or ():
        cls = _ERRORS.get(str(name))
        if cls is not None:
            return cls(message)
    return BackendError(message)


# -- the worker side ---------------------------------------------------------------------------
@contextlib.contextmanager
def _no_lock(_name: str) -> Iterator[None]:
    yield


class _Endpoint:
    """One backend's calls. Every method answers ``{"ok": ...}`` or ``{"error": ...}``."""

    def __init__(self, backend: str, worker: str, driver: VolumeDriver, lock: LockFactory) -> None:
        self._backend = backend
        self._worker = worker
        self._driver = driver
        self._lock = lock

    def _run(self, method: str, volume_id: str | None, action: Callable[[], T],
             capability: type | None = None) -> dict[str, object]:
        """``action``'s answer; with ``volume_id``, under that volume's lock (None: a read that
        names several volumes, or none, and takes no lock)."""
        try:
            if capability is not None and not isinstance(self._driver, capability):
                raise CapabilityMissing(f"backend {self._backend} cannot {method.replace('_', ' ')}")
            with self._lock(f"volume-{volume_id}") if volume_id is not None else contextlib.nullcontext():
                return {"ok": action()}
        except VolcloneError as exc:
            log.info("backend %s: %s(%s) failed: %s", self._backend, method, volume_id, exc.message)
            return {"error": encode_error(exc, self._backend)}
        except Exception as exc:
            log.exception("backend %s: %s(%s) failed", self._backend, method, volume_id)
            return {"error": encode_error(exc, self._backend)}

    def create_volume(self, ctxt: object, volume_id: str, size_gib: int) -> dict[str, object]:
        return self._run("create_volume", volume_id, lambda: self._driver.create_volume(volume_id, size_gib))

    def delete_volume(self, ctxt: object, volume_id: str) -> dict[str, object]:
        return self._run("delete_volume", volume_id, lambda: self._driver.delete_volume(volume_id))

    def volume_exists(self, ctxt: object, volume_id: str) -> dict[str, object]:
        return self._run("volume_exists", volume_id, lambda: self._driver.volume_exists(volume_id))

    def initialize_connection(self, ctxt: object, volume_id: str, writable: bool) -> dict[str, object]:
        def action() -> dict[str, object]:
            assert isinstance(self._driver, Attachable)
            return self._driver.initialize_connection(volume_id, writable)
        return self._run("initialize_connection", volume_id, action, Attachable)

    def terminate_connection(self, ctxt: object, volume_id: str) -> dict[str, object]:
        def action() -> None:
            assert isinstance(self._driver, Attachable)
            self._driver.terminate_connection(volume_id)
        return self._run("terminate_connection", volume_id, action, Attachable)

    def flatten(self, ctxt: object, volume_id: str) -> dict[str, object]:
        def action() -> bool:
            assert isinstance(self._driver, Flattenable)
            return self._driver.flatten(volume_id)
        return self._run("flatten", volume_id, action, Flattenable)

    def extend_volume(self, ctxt: object, volume_id: str, new_size_gib: int) -> dict[str, object]:
        def action() -> None:
            assert isinstance(self._driver, Extendable)
            self._driver.extend_volume(volume_id, new_size_gib)
        return self._run("extend_volume", volume_id, action, Extendable)

    def clone_method_for(self, ctxt: object, full_copy: bool) -> dict[str, object]:
        def action() -> str:
            assert isinstance(self._driver, ClonePlannable)
            return str(self._driver.clone_method_for(full_copy))
        return self._run("clone_method_for", None, action, ClonePlannable)

    def allocated_bytes(self, ctxt: object, volume_ids: list[str]) -> dict[str, object]:
        def action() -> dict[str, int]:
            assert isinstance(self._driver, ClonePlannable)
            return self._driver.allocated_bytes(list(volume_ids))
        return self._run("allocated_bytes", None, action, ClonePlannable)

    def set_volume_qos(self, ctxt: object, volume_id: str, limits: dict[str, int]) -> dict[str, object]:
        def action() -> None:
            assert isinstance(self._driver, QosLimitable)
            self._driver.set_volume_qos(volume_id, {str(k): int(v) for k, v in limits.items()})
        return self._run("set_volume_qos", volume_id, action, QosLimitable)

    def volume_qos(self, ctxt: object, volume_id: str) -> dict[str, object]:
        def action() -> dict[str, int]:
            assert isinstance(self._driver, QosLimitable)
            return self._driver.volume_qos(volume_id)
        return self._run("volume_qos", volume_id, action, QosLimitable)

    def _snapshots(self) -> Snapshottable:
        assert isinstance(self._driver, Snapshottable)
        return self._driver

    def create_snapshot(self, ctxt: object, snapshot_id: str, volume_id: str) -> dict[str, object]:
        return self._run("create_snapshot", volume_id,
                         lambda: self._snapshots().create_snapshot(snapshot_id, volume_id), Snapshottable)

    def snapshot_exists(self, ctxt: object, snapshot_id: str, volume_id: str) -> dict[str, object]:
        return self._run("snapshot_exists", volume_id,
                         lambda: self._snapshots().snapshot_exists(snapshot_id, volume_id), Snapshottable)

    def delete_snapshot(self, ctxt: object, snapshot_id: str, volume_id: str) -> dict[str, object]:
        return self._run("delete_snapshot", volume_id,
                         lambda: self._snapshots().delete_snapshot(snapshot_id, volume_id), Snapshottable)

    def create_snapshots_at_once(self, ctxt: object, members: list[list[str]],
                                 group_snapshot_id: str | None = None) -> dict[str, object]:
        def action() -> None:
            assert isinstance(self._driver, GroupSnapshottable)
            self._driver.create_snapshots_at_once([(str(v), str(s)) for v, s in members],
                                                  group_snapshot_id=group_snapshot_id)
        # Several volumes: no one volume's lock (the service holds each member's while it calls).
        return self._run("create_snapshots_at_once", None, action, GroupSnapshottable)

    def create_volume_from_snapshot(self, ctxt: object, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> dict[str, object]:
        return self._run("create_volume_from_snapshot", new_volume_id,
                         lambda: self._snapshots().create_volume_from_snapshot(new_volume_id, snapshot_id,
                                                                               volume_id, size_gib),
                         Snapshottable)

    def revert_to_snapshot(self, ctxt: object, volume_id: str, snapshot_id: str) -> dict[str, object]:
        return self._run("revert_to_snapshot", volume_id,
                         lambda: self._snapshots().revert_to_snapshot(volume_id, snapshot_id), Snapshottable)

    def describe(self, ctxt: object) -> dict[str, object]:
        consistency = self._driver.consistency_method if isinstance(self._driver, GroupSnapshotCapable) else None
        return {"ok": {"max_size_gib": self._driver.max_size_gib, "worker": self._worker,
                       "consistency_method": consistency}}


class RpcServer:
    """Serves the backend calls of one worker: one oslo.messaging RPC server per backend, on
    topic ``volclone-volume.<backend>`` as server ``worker``, each running calls in threads.

    ``lock(name)`` is held while a call on volume ``id`` runs (``name`` is ``volume-<id>``);
    None: no lock. :meth:`stop` waits for the calls in flight.
    """

    def __init__(self, transport_url: str, worker: str, host: str, drivers: Mapping[str, VolumeDriver],
                 lock: LockFactory | None = None) -> None:
        self.worker = worker
        self.host = host
        self._transport_url = transport_url
        self._drivers = dict(drivers)
        self._lock = lock or _no_lock
        self._transport: Any = None
        self._servers: list[Any] = []

    def start(self) -> None:
        """Listen on every backend's topic; BackendUnavailable if the broker can't be reached."""
        if not broker_reachable(self._transport_url, timeout=10.0):
            raise BackendUnavailable(f"worker {self.worker}: the message broker can't be reached")
        self._transport = _transport(self._transport_url)
        try:
            for backend, driver in self._drivers.items():
                target = oslo_messaging.Target(topic=topic(backend), server=self.worker)
                endpoint = _Endpoint(backend, self.worker, driver, self._lock)
                # No executor named: oslo.messaging picks "threading" (this process is not eventlet's).
                server = oslo_messaging.get_rpc_server(self._transport, target, [endpoint])
                server.start()
                self._servers.append(server)
                log.info("worker %s on %s serves backend %s (topic %s)", self.worker, self.host, backend,
                         target.topic)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop taking calls, wait for those in flight, close the connection."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        if self._transport is not None:
            self._transport.cleanup()
            self._transport = None


# -- the caller side ---------------------------------------------------------------------------
class RpcClient:
    """Calls the workers of each backend; :meth:`driver` gives a backend's proxy.

    A call nobody answers within ``timeout`` seconds raises BackendUnavailable. ``flatten``
    may run much longer (it copies data): it waits up to ``flatten_timeout``, as long as the
    worker running it keeps saying so (oslo.messaging's call monitor: a heartbeat every ``timeout`` / 2,
    whole seconds; the call fails when none came for ``timeout``, at least 2 s).
    """

    def __init__(self, transport_url: str, timeout: float = 60.0, *, flatten_timeout: float = 3600.0) -> None:
        self.timeout = timeout
        self.flatten_timeout = flatten_timeout
        self._url = transport_url
        self._transport = _transport(transport_url)
        #: Whether a call was answered once (so oslo.messaging's reply queue exists: see broker_reachable).
        self._connected = False
        self._clients: dict[str, Any] = {}
        self._drivers: dict[tuple[str, type[VolumeDriver]], VolumeDriver] = {}
        self._guard = threading.Lock()

    def close(self) -> None:
        self._transport.cleanup()

    def driver(self, backend: str, driver_class: type[VolumeDriver]) -> VolumeDriver:
        """A VolumeDriver whose calls run on a worker of ``backend``; it has the capability
        interfaces ``driver_class`` has (and no others)."""
        with self._guard:
            proxy = self._drivers.get((backend, driver_class))
            if proxy is None:
                caps = tuple(c for c in CAPABILITIES if issubclass(driver_class, c))
                proxy = _proxy_class(caps)(self, backend)
                self._drivers[(backend, driver_class)] = proxy
            return proxy

    def _client(self, backend: str) -> Any:
        with self._guard:
            client = self._clients.get(backend)
            if client is None:
                client = oslo_messaging.get_rpc_client(self._transport, oslo_messaging.Target(topic=topic(backend)))
                self._clients[backend] = client
            return client

    def call(self, backend: str, method: str, **kwargs: object) -> Any:
        """Run ``method`` on one worker of ``backend``; its result, or the error it raised."""
        if method == "flatten":
            # The worker's heartbeats come every monitor / 2 s; oslo.messaging wants whole seconds, at least 1.
            wait, monitor = self.flatten_timeout, float(max(2, math.ceil(self.timeout)))
        else:
            wait, monitor = self.timeout, None
        # retry=1: a send that fails reconnects once (a pooled connection the broker dropped), then
        # gives up; oslo.messaging's default would retry forever.
        context = self._client(backend).prepare(timeout=wait, call_monitor_timeout=monitor, retry=1)
        if not self._connected and not broker_reachable(self._url, timeout=min(self.timeout, 5.0)):
            raise BackendUnavailable(f"backend {backend}: the message broker can't be reached")
        try:
            reply = context.call({}, method, **kwargs)
            self._connected = True
        except oslo_messaging.MessagingTimeout as exc:
            self._connected = True  # the reply queue is there: only the workers were missing
            waited = monitor if monitor is not None else wait
            raise BackendUnavailable(f"no worker of backend {backend} answered within {waited:g} s") from exc
        except oslo_messaging.MessageDeliveryFailure as exc:
            raise BackendUnavailable(f"backend {backend}: the message broker can't be reached") from exc
        except oslo_messaging.MessagingException as exc:
            log.warning("backend %s: %s failed in transit: %s", backend, method, exc)
            raise BackendError(f"backend {backend}: the call {method} failed in transit "
                               f"({type(exc).__name__})") from exc
        if not isinstance(reply, dict):
            raise BackendError(f"backend {backend}: {method} gave an answer that is not volclone's")
        if "error" in reply:
            raise decode_error(reply["error"])
        return reply.get("ok")


class _Remote:
    """What every proxy part shares: the client and the backend's name."""

    _client: RpcClient
    name: str

    def _call(self, method: str, **kwargs: object) -> Any:
        return self._client.call(self.name, method, **kwargs)

    def _worker_only(self, method: str) -> NotImplementedError:
        return NotImplementedError(f"backend {self.name}: {method} runs only in a worker of the backend, "
                                   "never through RPC")


class RemoteDriver(_Remote, VolumeDriver):
    """A backend's primitives, run on its workers. ``start``/``stop`` do nothing: the workers
    own the driver. ``max_size_gib`` is asked once."""

    def __init__(self, client: RpcClient, backend: str) -> None:
        super().__init__(backend)
        self._client = client
        self._described: dict[str, Any] | None = None

    def _description(self) -> dict[str, Any]:
        """What the workers say of the backend (asked once)."""
        if self._described is None:
            self._described = dict(self._call("describe"))
        return self._described

    @property
    def max_size_gib(self) -> int | None:
        value = self._description().get("max_size_gib")
        return None if value is None else int(value)

    @max_size_gib.setter
    def max_size_gib(self, value: int | None) -> None:
        """(VolumeDriver's attribute is writable; setting it here overrides what the workers say.)"""
        self._described = {**(self._described or {}), "max_size_gib": value}

    def create_volume(self, volume_id: str, size_gib: int) -> None:
        self._call("create_volume", volume_id=volume_id, size_gib=size_gib)

    def delete_volume(self, volume_id: str) -> None:
        self._call("delete_volume", volume_id=volume_id)

    def volume_exists(self, volume_id: str) -> bool:
        return bool(self._call("volume_exists", volume_id=volume_id))


class _RemoteAttachable(_Remote, Attachable):
    def initialize_connection(self, volume_id: str, writable: bool) -> dict[str, object]:
        return dict(self._call("initialize_connection", volume_id=volume_id, writable=writable))

    def terminate_connection(self, volume_id: str) -> None:
        self._call("terminate_connection", volume_id=volume_id)

    def keep_only(self, volume_ids: Collection[str]) -> None:
        """Nothing: each worker stops its own unclaimed exports when it starts (a call here
        would reach only one of the backend's workers)."""


class _RemoteExtendable(_Remote, Extendable):
    def extend_volume(self, volume_id: str, new_size_gib: int) -> None:
        self._call("extend_volume", volume_id=volume_id, new_size_gib=new_size_gib)


class _RemoteFlattenable(_Remote, Flattenable):
    def flatten(self, volume_id: str) -> bool:
        return bool(self._call("flatten", volume_id=volume_id))


class _RemoteGroupSnapshots(_Remote, GroupSnapshotCapable):
    """Clone flows run in the workers; the API role never snapshots or clones. It only says
    how the workers take the one point in time (for a dry run's plan)."""

    @property
    def consistency_method(self) -> str:  # type: ignore[override]  # (read only here: the workers' driver says)
        assert isinstance(self, RemoteDriver)
        return str(self._description().get("consistency_method") or GroupSnapshotCapable.consistency_method)

    def create_group_snapshot(self, snapshot_id: str, volume_ids: list[str], *,
                              full_copy: Collection[str] = ()) -> GroupSnapshot:
        raise self._worker_only("create_group_snapshot")

    def find_group_snapshot(self, snapshot_id: str) -> GroupSnapshot | None:
        raise self._worker_only("find_group_snapshot")

    def delete_group_snapshot(self, snapshot_id: str) -> None:
        raise self._worker_only("delete_group_snapshot")

    def clone_from_group_snapshot(self, snapshot: GroupSnapshot, clones: Mapping[str, str], *,
                                  progress: ByteProgress | None = None) -> None:
        raise self._worker_only("clone_from_group_snapshot")


class _RemotePlannable(_Remote, ClonePlannable):
    def clone_method_for(self, full_copy: bool) -> CloneMethod:
        return CloneMethod(self._call("clone_method_for", full_copy=full_copy))

    def allocated_bytes(self, volume_ids: Sequence[str]) -> dict[str, int]:
        return {str(k): int(v) for k, v in dict(self._call("allocated_bytes", volume_ids=list(volume_ids))).items()}


class _RemoteSnapshotReadable(_Remote, SnapshotReadable):
    def open_snapshot_member(self, snapshot: GroupSnapshot, volume_id: str) -> VolumeReader:
        raise self._worker_only("open_snapshot_member")


class _RemoteImportable(_Remote, VolumeImportable):
    def import_volume(self, volume_id: str, size: int) -> VolumeWriter:
        raise self._worker_only("import_volume")


class _RemoteSnapshottable(_Remote, Snapshottable):
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self._call("create_snapshot", snapshot_id=snapshot_id, volume_id=volume_id)

    def snapshot_exists(self, snapshot_id: str, volume_id: str) -> bool:
        return bool(self._call("snapshot_exists", snapshot_id=snapshot_id, volume_id=volume_id))

    def delete_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self._call("delete_snapshot", snapshot_id=snapshot_id, volume_id=volume_id)

    def create_volume_from_snapshot(self, new_volume_id: str, snapshot_id: str, volume_id: str,
                                    size_gib: int) -> None:
        self._call("create_volume_from_snapshot", new_volume_id=new_volume_id, snapshot_id=snapshot_id,
                   volume_id=volume_id, size_gib=size_gib)

    def revert_to_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        self._call("revert_to_snapshot", volume_id=volume_id, snapshot_id=snapshot_id)


class _RemoteGroupSnapshottable(_Remote, GroupSnapshottable):
    def create_snapshots_at_once(self, members: Sequence[tuple[str, str]], *,
                                 group_snapshot_id: str | None = None) -> None:
        self._call("create_snapshots_at_once", members=[[v, s] for v, s in members],
                   group_snapshot_id=group_snapshot_id)


class _RemoteQos(_Remote, QosLimitable):
    def set_volume_qos(self, volume_id: str, limits: Mapping[str, int]) -> None:
        self._call("set_volume_qos", volume_id=volume_id, limits=dict(limits))

    def volume_qos(self, volume_id: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in dict(self._call("volume_qos", volume_id=volume_id)).items()}


class _RemoteSwappable(_Remote, DataSwappable):
    """Revert flows run in the workers too; the API role only checks that the backend can swap."""

    def swap_in(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        raise self._worker_only("swap_in")

    def swap_back(self, volume_id: str, replacement_id: str, keep_as: str) -> None:
        raise self._worker_only("swap_back")


_PARTS: dict[type, type[_Remote]] = {
    Snapshottable: _RemoteSnapshottable,
    Attachable: _RemoteAttachable,
    ClonePlannable: _RemotePlannable,
    DataSwappable: _RemoteSwappable,
    Extendable: _RemoteExtendable,
    Flattenable: _RemoteFlattenable,
    GroupSnapshotCapable: _RemoteGroupSnapshots,
    GroupSnapshottable: _RemoteGroupSnapshottable,
    QosLimitable: _RemoteQos,
    SnapshotReadable: _RemoteSnapshotReadable,
    VolumeImportable: _RemoteImportable,
}


@functools.cache
def _proxy_class(capabilities: tuple[type, ...]) -> type[RemoteDriver]:
    """RemoteDriver with the proxy part of each capability (one class per combination)."""
    if not capabilities:
        return RemoteDriver
    name = "Remote" + "".join(c.__name__ for c in capabilities) + "Driver"
    return type(name, (RemoteDriver, *(_PARTS[c] for c in capabilities)), {"__module__": __name__})
