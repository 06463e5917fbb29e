"""The tasks of a clone-volumes request and the flow that orders them.

Each task has one side effect, a name in the spec's vocabulary that is stable
for the request (derived from the task id, never random, so a flow can resume
from persistence), and a revert that undoes exactly that effect. Reverts find
what to undo from deterministic ids rather than from the task's result, so they
also clean up after a task that failed half-way (the failpoints prove it: they
fire *after* a task's side effect).

Data moves between tasks by argument name; everything in the flow's store is
plain JSON, because TaskFlow persists it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow

from volclone.backends.base import GroupSnapshotCapable, VolumeDriver
from volclone.backends.copy import copy_from_group_snapshot
from volclone.db.repos import Groups, Volumes
from volclone.domain import CLONEABLE, Volume, VolumeStatus
from volclone.errors import InjectedFailure, InvalidVolume

log = logging.getLogger(__name__)

FLOW_NAME = "cloneFlow"
#: The clone's metadata keys that name where it came from.
META_SOURCE = "clone_source_volume_id"
META_TASK = "clone_task_id"


@dataclass
class CloneContext:
    """What the tasks act on; built once by the service, never persisted."""

    volumes: Volumes
    groups: Groups
    driver_for: Callable[[str], GroupSnapshotCapable]
    failpoints: tuple[str, ...] = ()
    #: Any backend by name: where clones on another backend than their sources go.
    backend_for: Callable[[str], VolumeDriver] | None = None

    def backend(self, name: str) -> VolumeDriver:
        return self.backend_for(name) if self.backend_for else self.driver_for(name)  # type: ignore[return-value]

    def failpoint(self, task_name: str) -> None:
        if any(task_name.startswith(p) for p in self.failpoints):
            raise InjectedFailure(f"failpoint hit in {task_name}")


def src_group_id(task_id: str) -> str:
    return f"src_group-{task_id}"


def snapshot_id(task_id: str) -> str:
    return f"snap-{task_id}"


class CloneTask(task.Task):  # type: ignore[misc]
    #: Least time between two persisted progress reports of one task.
    REPORT_EVERY = 0.2

    def __init__(self, ctx: CloneContext, name: str, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.ctx = ctx
        self._reported = 0.0

    def report_bytes(self, done: int, total: int) -> None:
        """Persist byte progress (throttled); get_progress turns it into ``progress``."""
        now = time.monotonic()
        if total <= 0 or (now - self._reported < self.REPORT_EVERY and done < total):
            return
        self._reported = now
        self.notifier.notify(task.EVENT_UPDATE_PROGRESS,
                             {"progress": min(1.0, done / total), "bytes_done": done, "bytes_total": total})


class CreateSourceGroup(CloneTask):
    """Group the sources for this task; a grouped volume cannot be deleted meanwhile.

    Revert: delete the group record.
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
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, **_: Any) -> None:
        self.ctx.groups.delete(src_group_id(task_id))


class CreateGroupSnapshot(CloneTask):
    """The consistency point: all sources frozen at one instant, in one backend call.

    Revert: delete the group snapshot; the backend folds the sources' new
    layers back once no clone uses the frozen ones, so sources are as before.
    """

    def execute(self, task_id: str, backend: str, source_ids: list[str],
                clones: list[dict[str, str]]) -> dict[str, Any]:
        full = [c["source"] for c in clones if c.get("mode") == "full"]
        snap = self.ctx.driver_for(backend).create_group_snapshot(snapshot_id(task_id), source_ids,
                                                                  full_copy=full)
        self.ctx.failpoint(self.name)
        return {"members": dict(snap.members), "io_freeze_ms": snap.io_freeze_ms}

    def revert(self, task_id: str, backend: str, **_: Any) -> None:
        self.ctx.driver_for(backend).delete_group_snapshot(snapshot_id(task_id))


class CreateGroupClone(CloneTask):
    """Create the clone volumes (``creating``) from the group snapshot, all at once. A clone
    whose ``backend`` is not the sources' is a copy of the snapshot's data made there.

    Revert: delete every clone of this task that exists, data and record.
    """

    def execute(self, task_id: str, project_id: str, backend: str, clones: list[dict[str, str]]) -> None:
        sources = self.ctx.volumes.get_many([c["source"] for c in clones])
        existing = self.ctx.volumes.get_many([c["id"] for c in clones])
        self.ctx.volumes.add([
            Volume(id=c["id"], project_id=project_id, name=c["name"], description=c.get("description"),
                   size=sources[c["source"]].size, status=VolumeStatus.CREATING,
                   volume_type_id=c["volume_type_id"], backend=c.get("backend") or backend)
            for c in clones if c["id"] not in existing
        ])
        driver = self.ctx.driver_for(backend)
        snap = driver.find_group_snapshot(snapshot_id(task_id))
        if snap is None:
            raise InvalidVolume(f"group snapshot of task {task_id} is gone")
        targets = {c.get("backend") or backend for c in clones}
        for target in sorted(targets):
            made = {c["source"]: c["id"] for c in clones if (c.get("backend") or backend) == target}
            if target == backend:
                driver.clone_from_group_snapshot(snap, made, progress=self.report_bytes)
            else:
                copy_from_group_snapshot(self.ctx.backend(backend), snap, self.ctx.backend(target), made,
                                         progress=self.report_bytes)
        self.ctx.failpoint(self.name)

    def revert(self, backend: str, clones: list[dict[str, str]], **_: Any) -> None:
        for c in clones:
            self.ctx.backend(c.get("backend") or backend).delete_volume(c["id"])
            self.ctx.volumes.delete(c["id"])


class SetMetadataForVolume(CloneTask):
    """Record on every clone where it came from (source volume and clone task).

    Revert: nothing of its own; the clones themselves go with CreateGroupClone's revert.
    """

    def execute(self, task_id: str, clones: list[dict[str, str]]) -> None:
        missing = self.ctx.volumes.merge_metadata(
            {c["id"]: {META_SOURCE: c["source"], META_TASK: task_id} for c in clones})
        if missing:
            raise InvalidVolume(f"clones {', '.join(missing)} are gone")
        self.ctx.failpoint(self.name)


class DeleteGroupSnapshot(CloneTask):
    """Drop the group snapshot; the frozen layers stay while clones or sources use them.

    Revert: nothing to restore; the clones' revert releases what they used and
    the sources' extra layers fold back then.
    """

    def execute(self, task_id: str, backend: str) -> None:
        self.ctx.driver_for(backend).delete_group_snapshot(snapshot_id(task_id))
        self.ctx.failpoint(self.name)


class DeleteSourceGroup(CloneTask):
    """Ungroup the sources: they may be deleted again.

    Revert: nothing; CreateSourceGroup's revert removes a group that is left.
    """

    def execute(self, task_id: str) -> None:
        self.ctx.groups.delete(src_group_id(task_id))
        self.ctx.failpoint(self.name)


class SetClonesAvailable(CloneTask):
    """The last step: the clones become ``available``.

    Revert: back to ``creating`` (CreateGroupClone's revert then deletes them).
    """

    def execute(self, clones: list[dict[str, str]]) -> None:
        ids = [c["id"] for c in clones]
        self.ctx.volumes.set_status(ids, VolumeStatus.AVAILABLE)
        self.ctx.failpoint(self.name)

    def revert(self, clones: list[dict[str, str]], **_: Any) -> None:
        self.ctx.volumes.set_status([c["id"] for c in clones], VolumeStatus.CREATING,
                                    only_from=frozenset({VolumeStatus.AVAILABLE}))


def build_flow(ctx: CloneContext, task_id: str) -> linear_flow.Flow:
    """The clone flow for one request. Task names derive from the task id only."""
    short = task_id[:8]
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(
        CreateSourceGroup(ctx, f"create_src_vol_group-{short}"),
        CreateGroupSnapshot(ctx, f"create_group_snapshot-{short}"),
        CreateGroupClone(ctx, f"create_group_clone-{short}"),
    )
    flow.add(
        SetMetadataForVolume(ctx, f"set_metadata_for_volume-{short}"),
        DeleteGroupSnapshot(ctx, f"delete_group_snapshot-{short}"),
        DeleteSourceGroup(ctx, f"delete_group-src_group-{short}"),
        SetClonesAvailable(ctx, f"set_clones_available-{short}"),
    )
    return flow
