"""The clone-volumes use case: validate, start a persisted flow, report its progress, and
retry what failed reverts left behind until it is gone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from taskflow import states

from volclone.backends.base import (
    CloneMethod,
    ClonePlannable,
    Extendable,
    GroupSnapshotCapable,
    SnapshotReadable,
    VolumeImportable,
    supports_group_snapshots,
)
from volclone.config import DEFAULT_PREFIX
from volclone.db.cancels import CancelMarks
from volclone.db.generic_groups import Groups as GenericGroups
from volclone.db.idempotency import IdempotencyKeys
from volclone.db.leftovers import Leftover, Leftovers
from volclone.db.repos import CloneTasks, ConfigValues, Groups, Volumes
from volclone.db.schema import CloneTaskRow
from volclone.db.snapshots import Snapshots
from volclone.domain import (
    CLONEABLE,
    FINISHED,
    CloneProgress,
    CloneRequest,
    Principal,
    TaskState,
    Volume,
    VolumeStatus,
    VolumeType,
)
from volclone.errors import BadRequest, CapabilityMissing, Conflict, InvalidVolume, NotFound
from volclone.flows.builders import FLOW_NAMES, build
from volclone.flows.cancels import CancelWatch
from volclone.flows.clone_volumes import META_SOURCE, CloneContext
from volclone.flows.engine import FlowRunner
from volclone.flows.messages import public_error
from volclone.flows.model import DEFERRED, CloneSpec, TaskKind, Undo
from volclone.flows.progress import read_progress
from volclone.naming import clone_names
from volclone.service import clone_plans
from volclone.service.clone_plans import ClonePlan
from volclone.service.messages import Action, Detail, MessageService, Resource
from volclone.service.multiattach import CREATE_RULE, Authorize
from volclone.service.periodic import Periodic
from volclone.service.quotas import QuotaService
from volclone.service.reverts import revert_store
from volclone.service.service_states import ServiceStates
from volclone.service.volumes import Backends, VolumeTypeService, clone_mode, is_multiattach

log = logging.getLogger(__name__)

PREFIX_KEY = "clone-name-prefix"
#: How a clone on another backend than its source is made: a copy of the snapshot's data.
CROSS_BACKEND_MODE = "copy"
#: The longest volume name (as in Cinder).
MAX_NAME = 255
#: Leftovers are retried in this order: what uses the snapshot first, the source groups last.
#: How long a retry waits for the request that holds its Idempotency-Key to record its task.
REPLAY_WAIT_S = 30.0
#: A revert in place's swap back comes before its staged data's delete (which waits for it).
RETRY_ORDER = (Undo.SWAP_BACK, Undo.RESET_CLONE_STATUS, Undo.DELETE_CLONE, Undo.FAIL_CLONE, Undo.DELETE_STAGED,
               Undo.DELETE_GROUP_SNAPSHOT, Undo.DROP_OLD_DATA, Undo.DELETE_GROUP)


@dataclass(frozen=True)
class _Checked:
    """A clone request that passed every check: the sources' backend and the clones to make."""

    backend: str
    clones: list[CloneSpec]
    #: Source id -> the source volume, in request order.
    sources: dict[str, Volume]
    #: Source id -> its clone's volume type.
    types: dict[str, VolumeType]

    @property
    def sizes(self) -> dict[str, int]:
        return {v: vol.size for v, vol in self.sources.items()}


def _family(row: CloneTaskRow) -> TaskKind:
    """The get_progress ``action`` a task answers to: a group made from a group snapshot is a
    create-from-src task, read as the clones' (``clone-volumes``)."""
    kind = TaskKind.of_store(row.request)
    return TaskKind.CLONE if kind is TaskKind.GROUP_FROM_SNAPSHOT else kind


def request_digest(req: CloneRequest) -> str:
    """What makes two clone requests the same request (the project scopes the key apart)."""
    body = {"volumes": list(req.volume_ids), "display_name": req.display_name, "description": req.description,
            "target_volume_type_id": req.target_type_id}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class CloneService:
    #: Bounds of the leftover retry interval (seconds).
    RETRY_INTERVAL_BOUNDS = (0.1, 3600.0)

    def __init__(self, volumes: Volumes, tasks: CloneTasks, settings: ConfigValues, types: VolumeTypeService,
                 backends: Backends, runner: FlowRunner, groups: Groups, max_volumes: int,
                 failpoints: tuple[str, ...] = (), leftovers: Leftovers | None = None,
                 retry_interval: float = 60.0, quotas: QuotaService | None = None,
                 served: frozenset[str] | None = None, keys: IdempotencyKeys | None = None,
                 messages: MessageService | None = None, generic_groups: GenericGroups | None = None,
                 snapshots: Snapshots | None = None) -> None:
        self.volumes = volumes
        #: Where a clone flow that failed is told to its project (user messages).
        self.messages = messages
        #: The clone requests' Idempotency-Keys (None: keys are not kept, the header is ignored).
        self.keys = keys
        #: The backends whose leftovers this process retries (a worker's); None: all of them.
        self.served = served
        self.quotas = quotas
        self.tasks = tasks
        self.settings = settings
        self.types = types
        self.backends = backends
        self.runner = runner
        self.groups = groups
        #: The services' disabled and frozen states (os-services), where they are kept.
        self.states: ServiceStates | None = None
        #: The policy's check of the rules only the service can tell apply (a multiattach type's).
        self.authorize: Authorize | None = None
        self.leftovers = leftovers or Leftovers(volumes.db)
        self.cancels = CancelMarks(volumes.db)
        self.ctx = CloneContext(volumes, groups, self.driver_for, failpoints, backend_for=backends.get,
                                leftovers=self.leftovers,
                                release_quota=quotas.release if quotas is not None else None,
                                cancels=CancelWatch(self.cancels.requested), generic_groups=generic_groups,
                                snapshots=snapshots)
        self.max_volumes = max_volumes
        runner.on_finished = self.flow_ended
        low, high = self.RETRY_INTERVAL_BOUNDS
        self.retrier = Periodic("leftover-retry", self.retry_leftovers, min(high, max(low, retry_interval)))
        self._retry_lock = threading.Lock()

    # -- settings ------------------------------------------------------------
    def prefix(self) -> str:
        return self.settings.get(PREFIX_KEY, DEFAULT_PREFIX)

    def set_prefix(self, prefix: str) -> None:
        self.settings.set(PREFIX_KEY, prefix)

    # -- clone ---------------------------------------------------------------
    def driver_for(self, backend: str) -> GroupSnapshotCapable:
        driver = self.backends.get(backend)
        if not supports_group_snapshots(driver):
            raise CapabilityMissing(f"backend {backend} cannot snapshot a group of volumes atomically")
        assert isinstance(driver, GroupSnapshotCapable)
        return driver

    def start(self, who: Principal, req: CloneRequest, idempotency_key: str | None = None) -> str:
        """Validate the request, persist its flow and start it; returns the task id.

        Nothing is created unless every check passes. With ``idempotency_key``, a request the
        project made with the same key and the same body within a day gets that request's task
        and nothing new is made; the same key with another body is a 409.
        """
        if idempotency_key is not None:
            digest = request_digest(req)
            earlier = self.keys.find(req.project_id, idempotency_key) if self.keys is not None else None
            if earlier is not None:
                return self._replay(who, req, idempotency_key, digest, earlier)
        checked = self._validate(who, req)
        task_id = str(uuid.uuid4())
        if idempotency_key is not None and self.keys is not None:  # of racing requests, one claims the key
            winner = self.keys.claim(req.project_id, idempotency_key, digest, task_id)
            if winner is not None:
                return self._replay(who, req, idempotency_key, digest, winner)
        try:
            return self._start(req, task_id, checked.backend, checked.clones, checked.sizes, who.user_id)
        except BaseException:
            if idempotency_key is not None and self.keys is not None:
                self.keys.release(req.project_id, idempotency_key, task_id)
            raise

    def plan(self, who: Principal, req: CloneRequest) -> ClonePlan:
        """What :meth:`start` would make of ``req`` and how, making nothing: the same checks
        (the same error for the same bad request, the quota's 413 included), then the backends
        are asked, read only, how they would clone and how much data a copy would move.

        An Idempotency-Key is neither looked up nor claimed: a plan is never a replay."""
        checked = self._validate(who, req)
        if self.quotas is not None:
            self.quotas.check(req.project_id, [(c.id, checked.sizes[c.source], c.volume_type_id)
                                              for c in checked.clones])
        source = self.driver_for(checked.backend)
        methods: dict[str, CloneMethod] = {}
        for c in checked.clones:
            if c.mode == CROSS_BACKEND_MODE:
                methods[c.source] = CloneMethod.CROSS_BACKEND_COPY
            else:
                methods[c.source] = self._planner(checked.backend).clone_method_for(c.mode == "full")
        copied = [c.source for c in checked.clones if methods[c.source].copies]
        allocated = self._planner(checked.backend).allocated_bytes(copied) if copied else {}
        types = {t.id: t for t in checked.types.values()}
        return clone_plans.plan(checked.clones, checked.sources, types, methods, allocated, checked.backend,
                                source.consistency_method)

    def create_volume(self, who: Principal, project_id: str, source_id: str, size: int | None,
                      name: str | None = None, description: str | None = None, volume_type: str | None = None,
                      metadata: dict[str, str] | None = None, bootable: bool | None = None) -> Volume:
        """Cinder's ``POST /volumes {"volume": {"source_volid": ...}}``: a clone of one volume,
        detached or attached, made by the clone-volumes flow (one consistent point, persisted,
        reverted on failure). The new volume is recorded ``creating`` before the flow starts (its
        id is the answer) and is ``available`` when the flow ends; a flow that reverts leaves it
        ``error``, its data gone, as Cinder leaves a failed create.

        Checks in Cinder's order: the source (404), the size (400: not below the source's; above
        it, the clone is extended once made), the source's status (400), the type (404), then
        the quota (413). Nothing is made unless all pass."""
        source = self.volumes.get(source_id)
        if source is None or source.project_id != project_id:
            raise NotFound(f"Volume {source_id} could not be found.")
        size = source.size if size is None else size
        if size < source.size:
            raise BadRequest(f"Volume size '{size}'GB cannot be smaller than original volume size {source.size}GB. "
                             "They must be >= original volume size.")
        if source.status not in CLONEABLE:
            raise InvalidVolume(f"Invalid volume: Unable to create a volume from an originating source volume when "
                                f"its status is not 'available' or 'in-use' (it is {source.status.value}).")
        target = self.types.find(volume_type, who) if volume_type else None
        req = CloneRequest(project_id, [source_id], description=description,
                           target_type_id=target.id if target is not None else None)
        checked = self._validate(who, req, named=False)
        spec = dataclasses.replace(checked.clones[0], name=name or "", size=size if size > source.size else None)
        if spec.size is not None:
            self._check_extendable(spec.backend, spec.size)
        clone = Volume(id=spec.id, project_id=project_id, name=name, description=description, size=size,
                       status=VolumeStatus.CREATING, volume_type_id=spec.volume_type_id, backend=spec.backend,
                       metadata={**(metadata or {}), META_SOURCE: source_id},
                       bootable=source.bootable if bootable is None else bootable,
                       multiattach=is_multiattach(checked.types[source_id]), user_id=who.user_id)
        if self.quotas is not None:  # 413 overLimit, and nothing made
            self.quotas.reserve(project_id, clone.id, [(clone.id, size, clone.volume_type_id)])
        try:
            self.volumes.add([clone])  # from here the volume counts itself
        finally:
            if self.quotas is not None:
                self.quotas.release(clone.id)
        task_id = str(uuid.uuid4())
        store: dict[str, Any] = {"task_id": task_id, "project_id": project_id, "backend": checked.backend,
                                 "source_ids": [source_id], "clones": [spec.to_json()], "volume_create": True}
        try:
            self._launch(task_id, project_id, store)
        except BaseException:
            self.volumes.delete(clone.id)
            raise
        log.info("clone task %s started: volume %s from source %s", task_id, clone.id, source_id)
        return self.volumes.get(clone.id) or clone

    def check_unnamed(self, who: Principal, req: CloneRequest) -> _Checked:
        """Every check of :meth:`start` on ``req``; the clones are left for the caller to name
        (``create-from-src`` names them after their sources). Reads only."""
        return self._validate(who, req, named=False)

    def launch(self, task_id: str, project_id: str, store: dict[str, Any]) -> None:
        """Persist, record and start a flow of the store's kind (its caller holds the quota)."""
        self._launch(task_id, project_id, store)
        log.info("task %s (%s) started", task_id, TaskKind.of_store(store).value)

    def _check_extendable(self, backend: str, size: int) -> None:
        driver = self.backends.get(backend)
        if not isinstance(driver, Extendable):
            raise CapabilityMissing(f"backend {backend} cannot extend volumes: a volume from a source is made of "
                                    "the source's size there")
        if driver.max_size_gib is not None and size > driver.max_size_gib:
            raise BadRequest(f"size {size} GiB is more than backend {backend} can hold ({driver.max_size_gib} GiB)")

    def _planner(self, backend: str) -> ClonePlannable:
        driver = self.backends.get(backend)
        if not isinstance(driver, ClonePlannable):
            raise CapabilityMissing(f"backend {backend} cannot plan clones (dry runs)")
        return driver

    def _validate(self, who: Principal, req: CloneRequest, named: bool = True) -> _Checked:
        """Every check of a clone request, in order (the first that fails raises); the clones it
        would make, with new ids. Reads only. ``named=False``: the caller names the clones (they
        are left unnamed here)."""
        ids = req.volume_ids
        if not ids:
            raise BadRequest("volumes must name at least one volume")
        if len(set(ids)) != len(ids):
            raise BadRequest("volumes must not name a volume twice")
        if len(ids) > self.max_volumes:
            raise BadRequest(f"at most {self.max_volumes} volumes can be cloned in one request")
        found = self.volumes.get_many(ids)
        for vid in ids:
            vol = found.get(vid)
            if vol is None or vol.project_id != req.project_id:
                raise NotFound(f"volume {vid} could not be found")
            if vol.status not in CLONEABLE:
                raise InvalidVolume(f"volume {vid} is {vol.status.value}; only available or in-use "
                                    "volumes can be cloned")
        backends = {found[v].backend for v in ids}
        if len(backends) > 1:
            raise BadRequest("the volumes are on different backends "
                             f"({', '.join(sorted(backends))}); one consistent snapshot can't span them")
        backend = backends.pop()
        target = self.types.get(req.target_type_id, who) if req.target_type_id else None
        target_backend = self.backends.name_for(target) if target is not None else backend
        if self.states is not None:  # the sources are snapshotted, the clones placed (os-services)
            self.states.check_not_frozen(backend, f"volume {ids[0]}")
            self.states.check_placeable(target_backend)
        self.driver_for(backend)
        if target_backend != backend:
            self._check_cross_backend(backend, target_backend, [found[v] for v in ids])

        clone_ids = [str(uuid.uuid4()) for _ in ids]
        names = clone_names(self.prefix(), req.display_name, [found[v].name for v in ids], clone_ids) if named \
            else ["" for _ in ids]
        if any(len(n) > MAX_NAME for n in names):
            given = "display-name" if req.display_name else "the source volume's name"
            raise BadRequest(f"with the prefix {self.prefix()!r}, {given} makes a clone name longer than "
                             f"{MAX_NAME} characters")
        clone_types = {vid: target or self.types.get(found[vid].volume_type_id) for vid in ids}
        for vtype in clone_types.values():
            self.types.refuse_if_encrypted(vtype)
        if self.authorize is not None and any(is_multiattach(t) for t in clone_types.values()):
            self.authorize(CREATE_RULE, who, req.project_id)  # a clone of a multiattach type is one too
        # Onto another backend the copy is the clone: no full copy at the snapshot.
        cross = target_backend != backend
        clones = [
            CloneSpec(source=vid, id=cid, name=name, description=req.description,
                      volume_type_id=clone_types[vid].id, backend=target_backend,
                      mode=CROSS_BACKEND_MODE if cross else clone_mode(clone_types[vid]))
            for vid, cid, name in zip(ids, clone_ids, names, strict=True)
        ]
        return _Checked(backend, clones, {v: found[v] for v in ids}, clone_types)

    def _replay(self, who: Principal, req: CloneRequest, key: str, digest: str, earlier: tuple[str, str]) -> str:
        """The task an earlier request with ``key`` started, once it is recorded; a 409 if that
        request had another body. Should the earlier request fail meanwhile, this one starts afresh."""
        task_id, earlier_digest = earlier
        if earlier_digest != digest:
            raise Conflict(f"Idempotency-Key {key!r} was used with another request body; use a new key")
        assert self.keys is not None
        deadline = time.monotonic() + REPLAY_WAIT_S
        while self.tasks.get(task_id) is None:
            if self.keys.find(req.project_id, key) is None:  # the earlier request failed: its key is free
                return self.start(who, req, key)
            if time.monotonic() > deadline:
                raise Conflict(f"the request with Idempotency-Key {key!r} is still being started; retry")
            time.sleep(0.02)
        return task_id

    def _start(self, req: CloneRequest, task_id: str, backend: str, clones: list[CloneSpec],
               sizes: dict[str, int], user_id: str | None = None) -> str:
        """Reserve quota, persist the flow, record the task and start the flow; the clones are
        recorded as made by ``user_id`` (the caller's)."""
        ids = req.volume_ids
        store: dict[str, Any] = {"task_id": task_id, "project_id": req.project_id, "backend": backend,
                                 "source_ids": list(ids), "clones": [c.to_json() for c in clones],
                                 "user_id": user_id}
        # Quota last of the checks, first of the changes: held for the task until its clone step
        # adds the clones (commit) or its revert ends (roll back). 413 overLimit makes nothing.
        if self.quotas is not None:
            self.quotas.reserve(req.project_id, task_id, [(c.id, sizes[c.source], c.volume_type_id) for c in clones])
        try:
            self._launch(task_id, req.project_id, store)
        except BaseException:
            if self.quotas is not None:
                self.quotas.release(task_id)
            raise
        log.info("clone task %s started: %s", task_id, ", ".join(ids))
        return task_id

    def _launch(self, task_id: str, project_id: str, store: dict[str, Any]) -> None:
        """Persist the task's flow (its kind's), record the task and start the flow; on failure
        nothing of it stays."""
        flow = build(self.ctx, task_id, TaskKind.of_store(store))
        logbook_id, flow_id, engine = self.runner.create(task_id, flow, store)
        self.tasks.add(task_id, project_id, store, logbook_id, flow_id)
        try:
            self.runner.submit(flow_id, engine)
        except BaseException:  # never started (the job board is down, say): nothing of it stays
            self.tasks.delete(task_id)
            self.runner.discard(logbook_id)
            raise

    # -- revert in place -------------------------------------------------------
    def revert(self, who: Principal, project_id: str, clone_task_id: str) -> str:
        """Put the sources of SUCCESS clone task ``clone_task_id`` back to its clones' data, in a
        flow of its own (see ``volclone.service.reverts`` for what is refused up front); returns
        the revert's task id."""
        row = self.tasks.get(clone_task_id)
        detail = self.runner.flow_detail(row.flow_id) if row is not None else None
        driver = None
        if row is not None and row.project_id == project_id and row.request.get("backend") in self.backends.drivers:
            driver = self.backends.get(str(row.request["backend"]))
        store = revert_store(row, detail, project_id, clone_task_id, self.volumes, self.groups, driver)
        task_id = str(uuid.uuid4())
        store["task_id"] = task_id
        self._launch(task_id, project_id, store)
        log.info("revert task %s started: %s back to the clones of task %s", task_id,
                 ", ".join(store["source_ids"]), clone_task_id)
        return task_id

    def _check_cross_backend(self, backend: str, target_backend: str, volumes: list[Volume]) -> None:
        """A clone onto another backend copies the snapshot's data: the source must read it
        out, the target take it in and hold volumes that big."""
        if not isinstance(self.backends.get(backend), SnapshotReadable):
            raise CapabilityMissing(f"backend {backend} cannot copy its volumes to another backend")
        target = self.backends.get(target_backend)
        if not isinstance(target, VolumeImportable):
            raise CapabilityMissing(f"backend {target_backend} cannot take volumes copied from another backend")
        too_big = [v.id for v in volumes if target.max_size_gib is not None and v.size > target.max_size_gib]
        if too_big:
            raise BadRequest(f"volumes {', '.join(too_big)} are larger than backend {target.name} can hold "
                             f"({target.max_size_gib} GiB)")

    def resume_interrupted(self) -> list[str]:
        """Continue flows a previous run left unfinished (every task is safe to repeat).

        One flow that cannot be resumed (its record unreadable, its flow not rebuildable) is
        logged and left as it is; it never keeps the service from starting or the others from
        resuming."""
        resumed = []
        for row in self.tasks.list():
            try:
                if self._resume(row):
                    resumed.append(row.id)
            except Exception:
                log.exception("clone task %s cannot be resumed; it is left as it is", row.id)
        return resumed

    def _resume(self, row: CloneTaskRow) -> bool:
        """Resume one task's flow if it is unfinished and its backends are up; whether it was."""
        detail = self.runner.flow_detail(row.flow_id)
        if detail is None or detail.state in FINISHED:
            return False
        backend = row.request["backend"]
        needed = {backend, *(c.backend for c in CloneSpec.load_all(row.request.get("clones") or [], backend))}
        down = sorted(b for b in needed if b in self.backends.unavailable)
        if down:
            log.error("clone task %s waits for the next service start: backend %s is unavailable",
                      row.id, ", ".join(down))
            return False
        flow = build(self.ctx, row.id, TaskKind.of_store(row.request))
        engine = self.runner.resume(row.logbook_id, row.flow_id, flow)
        self.runner.submit(row.flow_id, engine)
        log.warning("resuming clone task %s (was %s)", row.id, detail.state)
        return True

    def progress(self, who: Principal, project_id: str, task_id: str,
                 kind: TaskKind | None = None) -> CloneProgress:
        """get_progress of a task; with ``kind``, only of a task of that kind (else 404)."""
        row = self.tasks.get(task_id)
        if row is None or row.project_id != project_id or kind not in (None, _family(row)):
            what = "revert" if kind is TaskKind.REVERT else "clone"
            raise NotFound(f"{what} task {task_id} could not be found")
        detail = self.runner.flow_detail(row.flow_id)
        if detail is None:
            raise NotFound(f"clone task {task_id} has no flow")
        failed = frozenset(i.step for i in self.leftovers.for_task(task_id) if i.kind not in DEFERRED)
        task_kind = TaskKind.of_store(row.request)
        if task_kind is not TaskKind.CLONE:
            pairs = dict(zip(row.request["source_ids"], row.request["clone_ids"], strict=True))
            return read_progress(task_id, detail, pairs, failed, flow_name=FLOW_NAMES[task_kind])
        specs = CloneSpec.load_all(row.request["clones"], row.request["backend"])
        clone_map = {c.source: c.id for c in specs}
        return read_progress(task_id, detail, clone_map, failed, specs)

    def cancel(self, who: Principal, project_id: str, task_id: str) -> None:
        """Ask a running (or not yet started) clone task to stop and revert.

        The request is recorded in persistence, so any API process may take it; the process
        that runs the flow notices it within ``flows.cancels.POLL_S`` and the flow reverts.
        A task that has ended, or is reverting already, is a 409. Asking twice is harmless. A
        cancel that reaches the flow after its last step ran changes nothing: the task ends
        SUCCESS, whole (get_progress says so).
        """
        row = self.tasks.get(task_id)
        if row is None or row.project_id != project_id:
            raise NotFound(f"clone task {task_id} could not be found")
        detail = self.runner.flow_detail(row.flow_id)
        state = detail.state if detail is not None else None
        if state in FINISHED:
            raise Conflict(f"clone task {task_id} has ended ({state}); there is nothing to cancel")
        if state == TaskState.REVERTING:
            raise Conflict(f"clone task {task_id} is reverting already; it ends REVERTED or FAILURE by itself")
        if self.cancels.request(task_id):
            log.info("clone task %s: cancel requested (flow %s)", task_id, state)

    # -- leftovers of failed reverts ------------------------------------------
    def retry_leftovers(self) -> int:
        """Try once more to remove what failed reverts left behind, and release the source
        groups of flows that have ended; returns how many leftovers are still there."""
        with self._retry_lock:
            pending = sorted((i for i in self.leftovers.pending() if self.served is None or i.backend in self.served
                              or i.backend is None),
                             key=lambda i: RETRY_ORDER.index(Undo(i.kind)))
            left = 0
            not_back: set[str] = set()  # tasks whose swap back failed on this pass
            for n, item in enumerate(pending):
                if self.retrier.stopping:  # the service stops: the rest waits for the next start
                    return left + len(pending) - n
                if not self._due(item, not_back):
                    left += 1
                    continue
                done = self._retry(item)
                if not done and item.kind == Undo.SWAP_BACK.value:
                    not_back.add(item.task_id)
                left += not done
            self._release_dead_groups()
            return left

    def flow_ended(self, flow_id: str) -> None:
        """After a flow ended: a revert in place that succeeded drops its sources' old data now,
        rather than at the next periodic retry. A clone that did not succeed (and was not
        cancelled on request) leaves its project a user message."""
        if self.messages is not None:
            self._tell_failed(flow_id)
        if any(i.kind in DEFERRED for i in self.leftovers.pending()):
            self.retry_leftovers()

    def _tell_failed(self, flow_id: str) -> None:
        assert self.messages is not None
        row = self.tasks.by_flow(flow_id)
        if row is None:
            return
        detail = self.runner.flow_detail(flow_id)
        if detail is None or detail.state not in (states.REVERTED, states.FAILURE):
            return
        if self.cancels.requested([row.id]):
            return  # its project asked for the revert: nothing to tell
        group = row.request.get("target_group_id")
        if group:  # create-from-src: the group is what failed
            self.messages.record(row.project_id, Resource.GROUP, str(group), Action.CREATE_GROUP_FROM_SRC,
                                 Detail.UNKNOWN_ERROR)
            return
        action = Action.REVERT_VOLUMES if TaskKind.of_store(row.request) is TaskKind.REVERT else Action.CLONE_VOLUMES
        self.messages.record(row.project_id, Resource.CLONE_TASK, row.id, action, Detail.UNKNOWN_ERROR)

    def _due(self, item: Leftover, not_back: set[str]) -> bool:
        """Whether to try ``item`` now: a revert in place's old data only once its flow has
        ended SUCCESS (until then the swap can be undone), its staged data only once its swap
        back is done."""
        if item.kind == Undo.DELETE_STAGED.value:
            return item.task_id not in not_back
        if item.kind not in DEFERRED:
            return True
        row = self.tasks.get(item.task_id)
        detail = self.runner.flow_detail(row.flow_id) if row is not None else None
        return detail is not None and detail.state == states.SUCCESS

    def _retry(self, item: Leftover) -> bool:
        action = Undo(item.kind)
        try:
            self.ctx.try_undo(action, item.ref, item.backend)
        except Exception as exc:
            log.warning("clone task %s: %s, still (attempt %d): %s", item.task_id, action.describe(item.ref),
                        item.attempts + 1, exc, exc_info=True)
            self.leftovers.failed_again(item.id, public_error(exc))
            return False
        self.leftovers.resolve(item.id)
        log.warning("clone task %s: removed a leftover of its revert: %s", item.task_id,
                    action.describe(item.ref).replace(" was not ", " was "))
        return True

    def _release_dead_groups(self) -> None:
        """A source is never left grouped by a flow that has ended (nor by one that is gone)."""
        for group_id, task_id in self.leftovers.source_groups():
            row = self.tasks.get(task_id)
            detail = self.runner.flow_detail(row.flow_id) if row is not None else None
            if detail is not None and detail.state not in FINISHED:
                continue
            self.groups.delete(group_id)
            log.warning("released source group %s of clone task %s, which has ended", group_id, task_id)

    def start_retrying(self) -> None:
        """Retry leftovers now, then every ``retry_interval`` seconds in the background."""
        try:
            left = self.retry_leftovers()
            if left:
                log.warning("%d leftovers of failed clone reverts remain; retried every %.0f s",
                            left, self.retrier.interval)
        except Exception:
            log.exception("retrying the leftovers of failed clone reverts failed")
        self.retrier.start()

    def stop_retrying(self) -> None:
        self.retrier.stop()

    def wait(self, task_id: str, timeout: float | None = None) -> None:
        """Block until a flow of this process ends (for the CLI's serve-less tools and tests)."""
        row = self.tasks.get(task_id)
        if row is not None:
            self.runner.wait(row.flow_id, timeout)
