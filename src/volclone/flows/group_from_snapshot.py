"""The flow of ``create-from-src`` with a ``group_snapshot_id``: a new generic group's volumes
made from the group snapshot's member snapshots, which froze the source group at ONE point.

The clone flow (:mod:`volclone.flows.clone_volumes`) takes volumes as sources and freezes them
itself; here the point is frozen already, so each new volume comes from its member snapshot by
the backend's volume-from-snapshot call (:class:`~volclone.backends.base.Snapshottable`, the path
of ``POST /volumes {"snapshot_id"}``), all inside one persisted flow with the clone flow's
persistence, progress, cancel, failpoints, leftovers and revert semantics::

    check the member snapshots       (revert, last: the group is error, the quota rolled back)
    create the volumes from them     (revert: every volume it made deleted, data and record)
    set volumes and group available  (revert: back to creating)

The store (plain JSON): ``kind`` ("group_from_snapshot"), ``task_id``, ``project_id``, ``backend``
(the snapshots'), ``user_id``, ``target_group_id``, ``source_ids`` (member snapshot ids) and
``clone_ids`` (the new volumes' ids, in the same order), and ``volumes``: per new volume its
``id``, ``snapshot_id``, ``volume_id`` (the snapshot's volume), ``size``, ``name``,
``description``, ``volume_type_id`` and ``bootable``.
"""

from __future__ import annotations

import enum
from typing import Any

from taskflow.patterns import linear_flow

from volclone.backends.base import Snapshottable
from volclone.domain import SnapshotStatus, Volume, VolumeStatus
from volclone.errors import CapabilityMissing, InvalidVolume
from volclone.flows.clone_volumes import META_TASK, CloneContext, CloneTask
from volclone.flows.group_targets import group_available, group_back_to_creating, group_failed
from volclone.flows.model import Undo

FLOW_NAME = "groupFromSnapshotFlow"
#: The metadata key naming the member snapshot a volume was made from.
META_SNAPSHOT = "group_source_snapshot_id"
_GIB = 1 << 30


class SnapshotGroupStep(str, enum.Enum):
    """The steps, in the order they run; a task's name is ``<value>-<task id[:8]>``."""

    CHECK_SNAPSHOTS = "check_member_snapshots"
    CREATE_VOLUMES = "create_volumes_from_snapshots"
    SET_AVAILABLE = "set_group_volumes_available"

    def task_name(self, task_id: str) -> str:
        return f"{self.value}-{task_id[:8]}"


class CheckMemberSnapshots(CloneTask):
    """Every member snapshot is still there and ``available``.

    Revert: the last to run. The group is marked ``error`` (its volumes are gone by then), the
    quota still reserved is rolled back, and what the revert left behind is reported (the flow
    then ends FAILURE).
    """

    def execute(self, source_ids: list[str], volumes: list[dict[str, Any]]) -> None:
        snaps = self.ctx.snapshots
        if snaps is None:
            raise CapabilityMissing("this service has no snapshots")
        for ref in source_ids:
            snap = snaps.get(ref)
            if snap is None or snap.status is not SnapshotStatus.AVAILABLE:
                state = snap.status.value if snap else "deleted"
                raise InvalidVolume(f"member snapshot {ref} is {state}; the group cannot be made from it")
        self.failpoint()

    def revert(self, task_id: str, target_group_id: str | None = None, **_: Any) -> None:
        group_failed(self.ctx.generic_groups, target_group_id, task_id)
        self.ctx.release_quotas(task_id)
        self.ctx.report_revert(task_id)


class CreateVolumesFromSnapshots(CloneTask):
    """Record the new volumes (``creating``, members of the new group), then make each one's
    data from its member snapshot on the snapshots' backend.

    Revert: delete every volume of this task that exists, data and record, one by one.
    """

    def execute(self, task_id: str, project_id: str, backend: str, volumes: list[dict[str, Any]],
                target_group_id: str, user_id: str | None = None) -> None:
        existing = self.ctx.volumes.get_many([v["id"] for v in volumes])
        self.ctx.volumes.add([
            Volume(id=v["id"], project_id=project_id, name=v["name"], description=v["description"],
                   size=int(v["size"]), status=VolumeStatus.CREATING, volume_type_id=v["volume_type_id"],
                   backend=backend, user_id=user_id, group_id=target_group_id, snapshot_id=v["snapshot_id"],
                   bootable=bool(v.get("bootable")),
                   metadata={META_SNAPSHOT: v["snapshot_id"], META_TASK: task_id})
            for v in volumes if v["id"] not in existing])
        self.ctx.release_quotas(task_id)  # commit: the volumes' rows count themselves now
        driver = self.ctx.backend(backend)
        if not isinstance(driver, Snapshottable):
            raise CapabilityMissing(f"backend {backend} cannot make volumes from snapshots")
        total = sum(int(v["size"]) for v in volumes) * _GIB
        done = 0
        for v in volumes:
            self.ctx.check_cancelled(task_id)
            driver.delete_volume(v["id"])  # a run that was interrupted may have made it: start afresh
            driver.create_volume_from_snapshot(v["id"], v["snapshot_id"], v["volume_id"], int(v["size"]))
            done += int(v["size"]) * _GIB
            self.report_bytes(done, total)
        self.failpoint()

    def revert(self, task_id: str, backend: str, volumes: list[dict[str, Any]], **_: Any) -> None:
        for v in volumes:
            self.ctx.undo(task_id, self.name, Undo.DELETE_CLONE, v["id"], backend)


class SetGroupVolumesAvailable(CloneTask):
    """The last step: the volumes, then the group, become ``available``.

    Revert: both back to ``creating`` (the volumes' delete follows).
    """

    def execute(self, volumes: list[dict[str, Any]], target_group_id: str) -> None:
        self.ctx.volumes.set_status([v["id"] for v in volumes], VolumeStatus.AVAILABLE)
        group_available(self.ctx.generic_groups, target_group_id)
        self.failpoint()

    def revert(self, task_id: str, volumes: list[dict[str, Any]], target_group_id: str | None = None,
               **_: Any) -> None:
        group_back_to_creating(self.ctx.generic_groups, target_group_id)
        for v in volumes:
            self.ctx.undo(task_id, self.name, Undo.RESET_CLONE_STATUS, v["id"])


TASKS: dict[SnapshotGroupStep, type[CloneTask]] = {
    SnapshotGroupStep.CHECK_SNAPSHOTS: CheckMemberSnapshots,
    SnapshotGroupStep.CREATE_VOLUMES: CreateVolumesFromSnapshots,
    SnapshotGroupStep.SET_AVAILABLE: SetGroupVolumesAvailable,
}


def build_flow(ctx: CloneContext, task_id: str) -> linear_flow.Flow:
    """The flow for one request; task names derive from the task id only."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(*(cls(ctx, step.task_name(task_id), task_id) for step, cls in TASKS.items()))
    return flow
