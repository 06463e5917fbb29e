"""The tasks of a clone-volumes request and the flow that orders them.

Each task has one side effect, a name in the spec's vocabulary that is stable
for the request (derived from the task id, never random, so a flow can resume
from persistence), and a revert that undoes exactly that effect. Reverts find
what to undo from deterministic ids rather than from the task's result, so they
also clean up after a task that failed half-way (the failpoints prove it: they
fire *after* a task's side effect).

Reverts never strand anything. A revert undoes item by item (each clone, the group
snapshot, the source group, each status); an item that fails is logged, recorded
as a leftover (``volclone.db.leftovers``) and the revert goes on, so every earlier
step still reverts too. The first step's revert runs last: when anything was left,
it raises :class:`~volclone.errors.RevertIncomplete` naming every item, so the flow
ends FAILURE instead of REVERTED. The service retries the leftovers at start and
periodically until they are gone.

Failpoints (``VOLCLONE_FAILPOINTS``, comma-separated; for tests):

* ``<task-name-prefix>``: a task whose name starts with it fails right after its side
  effect (e.g. ``create_group_clone``);
* ``pause:<task-name-prefix>``: a task whose name starts with it waits, right after its side
  effect, until its clone task is cancelled (then raises :class:`~volclone.errors.Cancelled`),
  or at most :data:`PAUSE_MAX_S` seconds (then goes on); the cancel tests hold a flow at each
  step with it;
* ``revert:<undo>[:N]``: the undo action ``<undo>`` (one of :class:`~volclone.flows.model.Undo`:
  ``reset_clone_status``, ``delete_clone``, ``delete_group_snapshot``, ``delete_group``) fails
  its first N times in this process (default 1), in reverts and in leftover retries alike.

Cancelling (``POST .../clone-volumes/{task_id}/action {"cancel": {}}``): the request marks
the task in persistence; :class:`~volclone.flows.cancels.CancelWatch` sees the mark here. Every
task asks persistence at its start (``pre_execute``) and the copy loops hear it through their
progress callback (:meth:`CloneTask.report_bytes` raises ``Cancelled``), so the flow reverts as
after any failure, and its failure says it was cancelled.

Data moves between tasks by argument name; everything in the flow's store is
plain JSON, because TaskFlow persists it: the clones travel as
:meth:`CloneSpec.to_json <volclone.flows.model.CloneSpec.to_json>` and are read back
with ``CloneSpec.load_all``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow

from volclone.backends.base import DataSwappable, Extendable, GroupSnapshotCapable, VolumeDriver
from volclone.backends.copy import copy_from_group_snapshot
from volclone.db.generic_groups import Groups as GenericGroups
from volclone.db.leftovers import Leftover, Leftovers
from volclone.db.repos import Groups, Volumes
from volclone.db.snapshots import Snapshots
from volclone.domain import CLONEABLE, AttachStatus, Volume, VolumeStatus
from volclone.errors import Cancelled, CapabilityMissing, InjectedFailure, InvalidVolume, RevertIncomplete
from volclone.flows.cancels import CancelWatch
from volclone.flows.group_targets import group_available, group_back_to_creating, group_failed
from volclone.flows.messages import public_error
from volclone.flows.model import DEFERRED, CloneSpec, Step, Undo, backend_id, kept_source, staged_of_kept

log = logging.getLogger(__name__)

FLOW_NAME = "cloneFlow"
#: The clone's metadata keys that name where it came from.
META_SOURCE = "clone_source_volume_id"
META_TASK = "clone_task_id"
#: The failpoint entries that make an undo action fail: ``revert:<undo>[:N]``.
REVERT_FAILPOINT = "revert:"
#: The failpoint entries that hold a task until its clone task is cancelled: ``pause:<prefix>``.
PAUSE_FAILPOINT = "pause:"
#: The longest a ``pause:`` failpoint holds a task that nobody cancels (seconds).
PAUSE_MAX_S = 20.0
#: What a failed volume create from a source marks ``error`` from.
_FAILABLE = frozenset({VolumeStatus.CREATING, VolumeStatus.AVAILABLE})


def clone_undo(volume_create: bool) -> Undo:
    """How a revert undoes a clone: deleted (clone-volumes), or, for a volume create from a
    source (``source_volid``: its record was made before the flow, and its caller holds its
    id), its data deleted and its record left ``error``, as Cinder leaves a failed create."""
    return Undo.FAIL_CLONE if volume_create else Undo.DELETE_CLONE


class Failpoints:
    """The parsed ``VOLCLONE_FAILPOINTS`` entries (see the module docstring)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        prefixes: list[str] = []
        pauses: list[str] = []
        self._undo_left: dict[Undo, int] = {}
        for entry in entries:
            if entry.startswith(PAUSE_FAILPOINT):
                pauses.append(entry[len(PAUSE_FAILPOINT):])
                continue
            if not entry.startswith(REVERT_FAILPOINT):
                prefixes.append(entry)
                continue
            name, _, count = entry[len(REVERT_FAILPOINT):].partition(":")
            self._undo_left[Undo(name)] = int(count) if count else 1
        self.prefixes = tuple(prefixes)
        self.pauses = tuple(pauses)
        #: Set when a task holds at a ``pause:`` failpoint, by task name (tests wait for it).
        self.paused: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def reached(self, task_name: str) -> threading.Event:
        """Set once the task ``task_name`` holds at its ``pause:`` failpoint."""
        with self._lock:
            return self.paused.setdefault(task_name, threading.Event())

    def task(self, task_name: str, cancelled: Callable[[float], bool] | None = None) -> None:
        """Fail (or hold until ``cancelled(timeout)`` says the task was cancelled) if a failpoint names it."""
        if cancelled is not None and any(task_name.startswith(p) for p in self.pauses):
            self.reached(task_name).set()
            if cancelled(PAUSE_MAX_S):
                raise Cancelled()
        if any(task_name.startswith(p) for p in self.prefixes):
            raise InjectedFailure(f"failpoint hit in {task_name}")

    def undo(self, action: Undo, ref: str) -> None:
        with self._lock:
            left = self._undo_left.get(action, 0)
            if left <= 0:
                return
            self._undo_left[action] = left - 1
        raise InjectedFailure(f"failpoint hit in revert {action.value} of {ref}")


@dataclass
class CloneContext:
    """What the tasks act on; built once by the service, never persisted."""

    volumes: Volumes
    groups: Groups
    driver_for: Callable[[str], GroupSnapshotCapable]
    failpoints: tuple[str, ...] = ()
    #: Any backend by name: where clones on another backend than their sources go.
    backend_for: Callable[[str], VolumeDriver] | None = None
    #: Where reverts record what they could not undo (default: in the volumes' database).
    leftovers: Leftovers | None = None
    #: Drops a task's quota reservation (the service's ``QuotaService.release``); None: no quotas.
    release_quota: Callable[[str], None] | None = None
    #: Sees the cancel marks of the tasks that run here (None: tasks are never cancelled).
    cancels: CancelWatch | None = None
    #: The generic groups a ``create-from-src`` flow fills (None: no flow here fills one).
    generic_groups: GenericGroups | None = None
    #: The snapshot records a group made from a group snapshot is made from.
    snapshots: Snapshots | None = None
    points: Failpoints = field(init=False)
    records: Leftovers = field(init=False)
    #: Revert failures that could not even be recorded, by task id (reported, not retried).
    _unrecorded: dict[str, list[str]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.points = Failpoints(self.failpoints)
        self.records = self.leftovers or Leftovers(self.volumes.db)

    def backend(self, name: str) -> VolumeDriver:
        return self.backend_for(name) if self.backend_for else self.driver_for(name)  # type: ignore[return-value]

    def failpoint(self, task_name: str, task_id: str | None = None) -> None:
        cancels = self.cancels
        waits = (lambda timeout: cancels.wait(task_id, timeout)) if cancels and task_id else None
        self.points.task(task_name, waits)

    def check_cancelled(self, task_id: str, now: bool = False) -> None:
        """Raise :class:`Cancelled` if the task's project cancelled it (``now``: ask persistence)."""
        if self.cancels is not None:
            self.cancels.check(task_id, now)

    def release_quotas(self, task_id: str) -> None:
        """Commit or roll back the task's quota reservation. A failure is logged, not raised:
        the reservation then stops counting when it expires."""
        if self.release_quota is None:
            return
        try:
            self.release_quota(task_id)
        except Exception:
            log.exception("clone task %s: its quota reservation was not released; it holds until it expires",
                          task_id)

    # -- undoing, in reverts and in retries ------------------------------------
    def undo_action(self, action: Undo, ref: str, backend: str | None) -> Callable[[], None]:
        def reset_status() -> None:
            self.volumes.set_status([ref], VolumeStatus.CREATING, only_from=frozenset({VolumeStatus.AVAILABLE}))

        def delete_clone() -> None:
            self.backend(str(backend)).delete_volume(ref)
            self.volumes.delete(ref)

        def fail_clone() -> None:  # a volume create from a source: its record stays, as error
            self.backend(str(backend)).delete_volume(ref)
            self.volumes.set_status([ref], VolumeStatus.ERROR, only_from=_FAILABLE)

        def delete_snapshot() -> None:
            self.driver_for(str(backend)).delete_group_snapshot(ref)

        def delete_group() -> None:
            self.groups.delete(ref)

        def delete_data() -> None:  # a revert in place's staged or old data: no volume row of its own
            self.backend(str(backend)).delete_volume(backend_id(ref))

        def swap_back() -> None:  # a revert in place's source gets its old data back, then is free again
            self.swapper(str(backend)).swap_back(kept_source(ref), backend_id(staged_of_kept(ref)), backend_id(ref))
            self.volumes.set_status([kept_source(ref)], VolumeStatus.AVAILABLE,
                                    only_from=frozenset({VolumeStatus.REVERTING}))

        return {Undo.RESET_CLONE_STATUS: reset_status, Undo.DELETE_CLONE: delete_clone, Undo.FAIL_CLONE: fail_clone,
                Undo.DELETE_GROUP_SNAPSHOT: delete_snapshot, Undo.DELETE_GROUP: delete_group,
                Undo.DELETE_STAGED: delete_data, Undo.SWAP_BACK: swap_back, Undo.DROP_OLD_DATA: delete_data}[action]

    def swapper(self, backend: str) -> DataSwappable:
        driver = self.backend(backend)
        if not isinstance(driver, DataSwappable):
            raise CapabilityMissing(f"backend {backend} cannot swap a volume's data for other data")
        return driver

    def try_undo(self, action: Undo, ref: str, backend: str | None) -> None:
        """Undo one item once (the revert failpoints apply); raises what the undo raised."""
        self.points.undo(action, ref)
        self.undo_action(action, ref, backend)()

    def undo(self, task_id: str, step: str, action: Undo, ref: str, backend: str | None = None) -> bool:
        """Undo one item for a revert: on failure log it, record a leftover, and return False."""
        try:
            self.try_undo(action, ref, backend)
            return True
        except Exception as exc:
            log.exception("clone task %s, revert of %s: %s; recorded to retry", task_id, step, action.describe(ref))
            message = public_error(exc)
        if action is Undo.FAIL_CLONE:  # its data is retried; the volume is failed all the same
            with contextlib.suppress(Exception):
                self.volumes.set_status([ref], VolumeStatus.ERROR, only_from=_FAILABLE)
        if action is Undo.DELETE_CLONE:  # as Cinder marks a volume whose delete failed
            try:
                self.volumes.set_status([ref], VolumeStatus.ERROR_DELETING)
            except Exception:
                log.exception("clone %s could not be marked %s", ref, VolumeStatus.ERROR_DELETING.value)
        try:
            self.records.record(Leftover.new(task_id, step, action.value, ref, backend, message))
        except Exception:
            log.exception("clone task %s: the leftover %s could not be recorded", task_id, action.describe(ref))
            with self._lock:
                self._unrecorded.setdefault(task_id, []).append(f"{action.describe(ref)} ({message})")
        return False

    def schedule(self, task_id: str, step: str, action: Undo, refs: Iterable[str], backend: str | None) -> None:
        """Record work to do once the flow has succeeded (:data:`~volclone.flows.model.DEFERRED`
        kinds): the leftover retry carries it out then."""
        for ref in refs:
            self.records.record(Leftover.new(task_id, step, action.value, ref, backend,
                                             "to be done once the flow has succeeded"))

    def unschedule(self, task_id: str, action: Undo) -> None:
        """Cancel what :meth:`schedule` recorded for the task (its flow reverts)."""
        for item in self.records.for_task(task_id):
            if item.kind == action.value and not item.resolved:
                self.records.resolve(item.id)

    def pending(self, task_id: str, action: Undo) -> set[str]:
        """The refs of the task's unresolved leftovers of kind ``action``."""
        return {i.ref for i in self.records.for_task(task_id) if i.kind == action.value and not i.resolved}

    def put_off(self, task_id: str, step: str, action: Undo, ref: str, backend: str | None, why: str) -> None:
        """Record an undo to retry later without trying it now (it must wait for another)."""
        self.records.record(Leftover.new(task_id, step, action.value, ref, backend, why))

    def report_revert(self, task_id: str) -> None:
        """Raise :class:`RevertIncomplete` naming everything this task's revert left behind."""
        items = [f"{Undo(i.kind).describe(i.ref)} ({i.message})" for i in self.records.for_task(task_id)
                 if i.kind not in DEFERRED]
        with self._lock:
            items += self._unrecorded.pop(task_id, [])
        if items:
            raise RevertIncomplete("the revert could not undo everything; what is left is retried until it is "
                                   "gone: " + "; ".join(items))


def src_group_id(task_id: str) -> str:
    return f"src_group-{task_id}"


def snapshot_id(task_id: str) -> str:
    return f"snap-{task_id}"


class CloneTask(task.Task):  # type: ignore[misc]
    #: Least time between two persisted progress reports of one task.
    REPORT_EVERY = 0.2

    #: The rate is reported once the copy has run this long (a first report has no rate).
    RATE_AFTER_S = 0.5

    def __init__(self, ctx: CloneContext, name: str, task_id: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.ctx = ctx
        #: The clone task this atom belongs to (its cancel mark is watched while it runs).
        self.task_id = task_id
        self._watching: contextlib.ExitStack | None = None
        self._reported = 0.0
        self._first: tuple[float, int] | None = None  # (when, bytes done) of this run's first report

    def pre_execute(self) -> None:
        """Watch the clone task's cancel mark while this task runs; a task cancelled before it
        starts does nothing (TaskFlow counts the raise as the task's failure, and reverts)."""
        if self.ctx.cancels is not None:
            self._watching = contextlib.ExitStack()
            self._watching.enter_context(self.ctx.cancels.watching(self.task_id))
        self.ctx.check_cancelled(self.task_id, now=True)

    def post_execute(self) -> None:
        if self._watching is not None:
            self._watching.close()
            self._watching = None

    def failpoint(self) -> None:
        self.ctx.failpoint(self.name, self.task_id)

    def report_bytes(self, done: int, total: int) -> None:
        """Persist byte progress (throttled); get_progress turns it into ``progress``, and, from
        the rate measured since this run's first report, ``bytes_per_second`` and ``eta_seconds``.

        Raises :class:`~volclone.errors.Cancelled` once the clone task is cancelled: the copy
        loops call it often (every 0.02-0.1 s), and stop and clean up what they made."""
        self.ctx.check_cancelled(self.task_id)
        now = time.monotonic()
        if self._first is None or done < self._first[1]:
            self._first = (now, done)
        if total <= 0 or (now - self._reported < self.REPORT_EVERY and done < total):
            return
        self._reported = now
        report: dict[str, Any] = {"progress": min(1.0, done / total), "bytes_done": done, "bytes_total": total}
        since, done_then = self._first
        if now - since >= self.RATE_AFTER_S and done > done_then:
            rate = (done - done_then) / (now - since)
            report["bytes_per_second"] = round(rate)
            report["eta_seconds"] = round(max(0, total - done) / rate, 1)
        self.notifier.notify(task.EVENT_UPDATE_PROGRESS, report)


class CreateSourceGroup(CloneTask):
    """Group the sources for this task; a grouped volume cannot be deleted meanwhile.

    Revert: delete the group record. It is the last revert to run, so it then reports
    everything the flow's revert left behind (the flow ends FAILURE if anything was).
    """

    def execute(self, task_id: str, project_id: str, source_ids: list[str]) -> None:
        # Group first, check second: a delete claims the volume first and checks for
        # groups second, so one of the two always sees the other.
        self.ctx.groups.add(src_group_id(task_id), task_id, project_id, source_ids)
        volumes = self.ctx.volumes.get_many(source_ids)
        for vid in source_ids:
            vol = volumes.get(vid)
            if vol is None or vol.status not in CLONEABLE:
                state = vol.status.value if vol else "deleted"
                raise InvalidVolume(f"volume {vid} is {state} and cannot be cloned")
        self.failpoint()

    def revert(self, task_id: str, backend: str, clones: list[dict[str, Any]], volume_create: bool = False,
               target_group_id: str | None = None, **_: Any) -> None:
        if volume_create:  # a failure before the clone step too leaves the new volume error
            for c in CloneSpec.load_all(clones, backend):
                self.ctx.undo(task_id, self.name, Undo.FAIL_CLONE, c.id, c.backend)
        self.ctx.undo(task_id, self.name, Undo.DELETE_GROUP, src_group_id(task_id))
        group_failed(self.ctx.generic_groups, target_group_id, task_id)  # create-from-src: its clones are gone
        self.ctx.release_quotas(task_id)  # roll back what is still reserved; removed clones count no more
        self.ctx.report_revert(task_id)


class CreateGroupSnapshot(CloneTask):
    """The consistency point: all sources frozen at one instant, in one backend call.

    Revert: delete the group snapshot; the backend folds the sources' new
    layers back once no clone uses the frozen ones, so sources are as before.
    """

    def execute(self, task_id: str, backend: str, source_ids: list[str],
                clones: list[dict[str, Any]]) -> dict[str, Any]:
        full = [c.source for c in CloneSpec.load_all(clones, backend) if c.mode == "full"]
        driver = self.ctx.driver_for(backend)
        snap = driver.create_group_snapshot(snapshot_id(task_id), source_ids, full_copy=full)
        taken_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.failpoint()
        # What the set got, said plainly: crash-consistent is the one level volclone promises.
        consistency: dict[str, Any] = {
            "level": "crash-consistent" if driver.crash_consistent else "none",
            "method": driver.consistency_method, "members": list(source_ids), "taken_at": taken_at}
        if snap.io_freeze_ms is not None:
            consistency["io_freeze_ms"] = round(float(snap.io_freeze_ms), 3)
        return {"members": dict(snap.members), "io_freeze_ms": snap.io_freeze_ms, "consistency": consistency,
                "sources": self._as_frozen(source_ids)}

    def _as_frozen(self, source_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What the manifest tells of each source as of the point: its size, whether it boots,
        and who had it attached (in the order they attached, where that is known)."""
        found = self.ctx.volumes.get_many(source_ids)
        sources: dict[str, dict[str, Any]] = {}
        for vid, vol in found.items():
            attached = sorted((a for a in vol.attachments if a.status is AttachStatus.ATTACHED),
                              key=lambda a: (a.attached_at is None, a.attached_at or dt.datetime.min))
            sources[vid] = {"size": vol.size, "bootable": vol.bootable, "attachments": [
                {"instance_uuid": a.instance_uuid, "attach_mode": a.mode.value,
                 "attach_order": n if a.attached_at is not None else None, "mountpoint": a.mountpoint}
                for n, a in enumerate(attached, start=1)]}
        return sources

    def revert(self, task_id: str, backend: str, **_: Any) -> None:
        self.ctx.undo(task_id, self.name, Undo.DELETE_GROUP_SNAPSHOT, snapshot_id(task_id), backend)


class CreateGroupClone(CloneTask):
    """Create the clone volumes (``creating``) from the group snapshot, all at once. A clone
    whose ``backend`` is not the sources' is a copy of the snapshot's data made there.

    Revert: delete every clone of this task that exists, data and record, one by one.
    """

    def execute(self, task_id: str, project_id: str, backend: str, clones: list[dict[str, Any]],
                user_id: str | None = None, target_group_id: str | None = None) -> None:
        # ``user_id``: the caller's, recorded as the clones' maker (a flow stored before it had one: None).
        # ``target_group_id``: create-from-src's new group; the clones are its members, and say
        # their task from the start (its get_progress).
        specs = CloneSpec.load_all(clones, backend)
        sources = self.ctx.volumes.get_many([c.source for c in specs])
        existing = self.ctx.volumes.get_many([c.id for c in specs])

        def origin(c: CloneSpec) -> dict[str, str]:
            return {META_SOURCE: c.source, META_TASK: task_id} if target_group_id else {}

        self.ctx.volumes.add([
            Volume(id=c.id, project_id=project_id, name=c.name, description=c.description,
                   size=sources[c.source].size, status=VolumeStatus.CREATING,
                   volume_type_id=c.volume_type_id, backend=c.backend, user_id=user_id,
                   group_id=target_group_id, metadata=origin(c),
                   bootable=bool(target_group_id) and sources[c.source].bootable)
            for c in specs if c.id not in existing
        ])
        self.ctx.release_quotas(task_id)  # commit: the clones' rows count themselves now
        driver = self.ctx.driver_for(backend)
        snap = driver.find_group_snapshot(snapshot_id(task_id))
        if snap is None:
            raise InvalidVolume(f"group snapshot of task {task_id} is gone")
        for target in sorted({c.backend for c in specs}):
            made = {c.source: c.id for c in specs if c.backend == target}
            if target == backend:
                driver.clone_from_group_snapshot(snap, made, progress=self.report_bytes)
            else:
                copy_from_group_snapshot(self.ctx.backend(backend), snap, self.ctx.backend(target), made,
                                         progress=self.report_bytes)
        for c in specs:  # a volume create from a source may ask for more than the source's size
            if c.size is not None and c.size > sources[c.source].size:
                self._extend(c)
        self.failpoint()

    def _extend(self, spec: CloneSpec) -> None:
        driver = self.ctx.backend(spec.backend)
        if not isinstance(driver, Extendable):
            raise CapabilityMissing(f"backend {spec.backend} cannot extend volumes")
        assert spec.size is not None
        driver.extend_volume(spec.id, spec.size)

    def revert(self, task_id: str, backend: str, clones: list[dict[str, Any]], volume_create: bool = False,
               **_: Any) -> None:
        for c in CloneSpec.load_all(clones, backend):
            self.ctx.undo(task_id, self.name, clone_undo(volume_create), c.id, c.backend)


class SetMetadataForVolume(CloneTask):
    """Copy each source's user metadata onto its clone, and record on every clone where it came
    from (source volume and clone task).

    Revert: nothing of its own; the clones themselves go with CreateGroupClone's revert.
    """

    def execute(self, task_id: str, backend: str, clones: list[dict[str, Any]],
                volume_create: bool = False) -> dict[str, Any]:
        specs = CloneSpec.load_all(clones, backend)
        # A volume create from a source keeps the request's metadata (Cinder copies none).
        sources = {} if volume_create else self.ctx.volumes.get_many([c.source for c in specs])
        # The source's user metadata comes along, the clone keys over it (a clone of a clone
        # names its own source and task).
        metadata = {c.id: {**(sources[c.source].metadata if c.source in sources else {}),
                           META_SOURCE: c.source, META_TASK: task_id} for c in specs}
        missing = self.ctx.volumes.merge_metadata(metadata)
        if missing:
            raise InvalidVolume(f"clones {', '.join(missing)} are gone")
        self.failpoint()
        return {"metadata": metadata}


class DeleteGroupSnapshot(CloneTask):
    """Drop the group snapshot; the frozen layers stay while clones or sources use them.

    Revert: nothing to restore; the clones' revert releases what they used and
    the sources' extra layers fold back then.
    """

    def execute(self, task_id: str, backend: str) -> None:
        self.ctx.driver_for(backend).delete_group_snapshot(snapshot_id(task_id))
        self.failpoint()


class DeleteSourceGroup(CloneTask):
    """Ungroup the sources: they may be deleted again.

    Revert: nothing; CreateSourceGroup's revert removes a group that is left.
    """

    def execute(self, task_id: str) -> None:
        self.ctx.groups.delete(src_group_id(task_id))
        self.failpoint()


class SetClonesAvailable(CloneTask):
    """The last step: the clones become ``available``.

    Revert: back to ``creating``, clone by clone (CreateGroupClone's revert then deletes them).
    """

    def execute(self, backend: str, clones: list[dict[str, Any]], target_group_id: str | None = None) -> None:
        self.ctx.volumes.set_status([c.id for c in CloneSpec.load_all(clones, backend)], VolumeStatus.AVAILABLE)
        group_available(self.ctx.generic_groups, target_group_id)
        self.failpoint()

    def revert(self, task_id: str, backend: str, clones: list[dict[str, Any]], target_group_id: str | None = None,
               **_: Any) -> None:
        group_back_to_creating(self.ctx.generic_groups, target_group_id)
        for c in CloneSpec.load_all(clones, backend):
            self.ctx.undo(task_id, self.name, Undo.RESET_CLONE_STATUS, c.id)


#: The task class of every step, in the order the flow runs them.
TASKS: dict[Step, type[CloneTask]] = {
    Step.CREATE_SRC_GROUP: CreateSourceGroup,
    Step.CREATE_GROUP_SNAPSHOT: CreateGroupSnapshot,
    Step.CREATE_GROUP_CLONE: CreateGroupClone,
    Step.SET_METADATA: SetMetadataForVolume,
    Step.DELETE_GROUP_SNAPSHOT: DeleteGroupSnapshot,
    Step.DELETE_SRC_GROUP: DeleteSourceGroup,
    Step.SET_CLONES_AVAILABLE: SetClonesAvailable,
}


def build_flow(ctx: CloneContext, task_id: str) -> linear_flow.Flow:
    """The clone flow for one request. Task names derive from the task id only."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(*(cls(ctx, step.task_name(task_id), task_id) for step, cls in TASKS.items()))
    return flow
