"""The tasks of a revert in place (``POST clone-volumes/revert``) and the flow that orders them.

A SUCCESS clone task made clones of its sources; the revert puts each source back to its
clone's data, all of them as of ONE point in time, without ever losing the sources' current
data before the new data is complete::

    hold sources (reverting) and clones (grouped)   -> nobody attaches, extends or deletes them
    group snapshot of the clones                     -> one consistent point (clones may be in use)
    prepare each source's new data beside it         -> staged volume (ref <source>.revert-<task>)
    swap it in                                       -> old data kept (ref <source>.before-<task>)
    delete the group snapshot
    schedule the old data's drop                     -> carried out once the flow has SUCCEEDED
    release the sources (available) and the clones

Every step is reversible until the flow ends: a failure anywhere swaps the old data back, deletes
the prepared data and the snapshot, and frees the volumes, so the sources read exactly what they
read before. The old data is dropped only after the flow ended ``SUCCESS`` (by the service's
leftover retry, which runs right after a flow of its own process ends and periodically), so no
failpoint of the flow ever finds it gone. Same persistence, failpoints (``<step prefix>`` and
``revert:<undo>``), leftovers and REVERTED semantics as the clone flow
(:mod:`volclone.flows.clone_volumes`).

The store (plain JSON, as TaskFlow persists it): ``kind`` ("revert"), ``task_id``, ``project_id``,
``backend``, ``clone_task_id``, ``source_ids`` and ``clone_ids`` (in the same order: the clone
whose data each source gets) and ``sizes`` (source id -> GiB, as the clone found it).
"""

from __future__ import annotations

from typing import Any

from taskflow.patterns import linear_flow

from volclone.domain import CLONEABLE, VolumeStatus
from volclone.errors import InvalidVolume
from volclone.flows.clone_volumes import CloneContext, CloneTask
from volclone.flows.model import RevertStep, Undo, kept_id, kept_ref, kept_source, staged_id, staged_ref

FLOW_NAME = "revertFlow"
HELD = frozenset({VolumeStatus.REVERTING})


def revert_group_id(task_id: str) -> str:
    return f"revert_group-{task_id}"


def revert_snapshot_id(task_id: str) -> str:
    return f"revert-snap-{task_id}"


class HoldVolumes(CloneTask):
    """The sources go ``available`` -> ``reverting`` (all or none) and sources and clones are
    grouped (a grouped volume can't be deleted); the clones must still be there, the sources and
    clones still the size the clone task found.

    Revert: the sources still ``reverting`` go back to ``available`` (but not one whose old data
    could not be swapped back: it stays ``reverting`` until the retry has given it back), and the
    group goes. It is the last revert to run, so it reports what the revert left behind.
    """

    def execute(self, task_id: str, project_id: str, source_ids: list[str], clone_ids: list[str],
                sizes: dict[str, int]) -> None:
        group = revert_group_id(task_id)
        held = self.ctx.groups.held_elsewhere(group, [*source_ids, *clone_ids])
        if held:
            raise InvalidVolume(f"volumes {', '.join(held)} are in use by another clone or revert task")
        self.ctx.groups.add(group, task_id, project_id, [*source_ids, *clone_ids])
        moved = self.ctx.volumes.set_status(source_ids, VolumeStatus.REVERTING,
                                            only_from=frozenset({VolumeStatus.AVAILABLE}))
        if set(moved) != set(source_ids):
            # Not ours to hold: give back what this call moved and drop the group, so that the
            # revert (which frees the sources only while the group is there) leaves them alone.
            self.ctx.volumes.set_status(moved, VolumeStatus.AVAILABLE, only_from=HELD)
            self.ctx.groups.delete(group)
            busy = sorted(set(source_ids) - set(moved))
            raise InvalidVolume(f"volumes {', '.join(busy)} are no longer available (attached, or busy)")
        found = self.ctx.volumes.get_many([*source_ids, *clone_ids])
        for source, clone in zip(source_ids, clone_ids, strict=True):
            vol = found.get(clone)
            if vol is None or vol.status not in CLONEABLE:
                state = vol.status.value if vol else "deleted"
                raise InvalidVolume(f"clone {clone} of volume {source} is {state}")
            if found[source].size != sizes[source] or vol.size != sizes[source]:
                raise InvalidVolume(f"volume {source} or its clone {clone} changed size since the clone")
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, source_ids: list[str], **_: Any) -> None:
        group = revert_group_id(task_id)
        if self.ctx.groups.exists(group):
            stuck = {kept_source(k) for k in self.ctx.pending(task_id, Undo.SWAP_BACK)}
            try:
                self.ctx.volumes.set_status([s for s in source_ids if s not in stuck], VolumeStatus.AVAILABLE,
                                            only_from=HELD)
            except Exception:  # the sources stay held: an admin's os-reset_status frees them
                self.ctx.undo(task_id, self.name, Undo.DELETE_GROUP, group)
                raise
        self.ctx.undo(task_id, self.name, Undo.DELETE_GROUP, group)
        self.ctx.report_revert(task_id)


class SnapshotClones(CloneTask):
    """The consistency point: all clones frozen at one instant, in one backend call (they may be
    attached and written meanwhile).

    Revert: delete the group snapshot.
    """

    def execute(self, task_id: str, backend: str, clone_ids: list[str]) -> None:
        self.ctx.driver_for(backend).create_group_snapshot(revert_snapshot_id(task_id), clone_ids)
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, backend: str, **_: Any) -> None:
        self.ctx.undo(task_id, self.name, Undo.DELETE_GROUP_SNAPSHOT, revert_snapshot_id(task_id), backend)


class PrepareData(CloneTask):
    """Make each source's new data beside it: volume ``staged_id`` from its clone's point in the
    snapshot (a linked clone where the backend can; the sources are not touched).

    Revert: delete each staged volume (after SwapIn's revert, it holds the data swapped out again).
    """

    def execute(self, task_id: str, backend: str, source_ids: list[str], clone_ids: list[str]) -> None:
        driver = self.ctx.driver_for(backend)
        snap = driver.find_group_snapshot(revert_snapshot_id(task_id))
        if snap is None:
            raise InvalidVolume(f"group snapshot of task {task_id} is gone")
        driver.clone_from_group_snapshot(
            snap, {c: staged_id(task_id, s) for s, c in zip(source_ids, clone_ids, strict=True)},
            progress=self.report_bytes)
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, backend: str, source_ids: list[str], **_: Any) -> None:
        not_back = self.ctx.pending(task_id, Undo.SWAP_BACK)
        for s in source_ids:
            if kept_ref(task_id, s) in not_back:  # its staged data is the source's until it is swapped back
                self.ctx.put_off(task_id, self.name, Undo.DELETE_STAGED, staged_ref(task_id, s), backend,
                                 "waits for the volume's swap back")
            else:
                self.ctx.undo(task_id, self.name, Undo.DELETE_STAGED, staged_ref(task_id, s), backend)


class SwapIn(CloneTask):
    """Switch every source over: it reads its staged data; its old data is kept as ``kept_id``.

    Revert: swap each source back (a no-op for one never swapped), so it reads its old data.
    """

    def execute(self, task_id: str, backend: str, source_ids: list[str]) -> None:
        swapper = self.ctx.swapper(backend)
        for s in source_ids:
            swapper.swap_in(s, staged_id(task_id, s), kept_id(task_id, s))
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, backend: str, source_ids: list[str], **_: Any) -> None:
        for s in source_ids:
            self.ctx.undo(task_id, self.name, Undo.SWAP_BACK, kept_ref(task_id, s), backend)


class DeleteClonesSnapshot(CloneTask):
    """Drop the clones' group snapshot; the data the sources now read stays while they use it.

    Revert: nothing; SnapshotClones' revert deletes a snapshot that is left.
    """

    def execute(self, task_id: str, backend: str) -> None:
        self.ctx.driver_for(backend).delete_group_snapshot(revert_snapshot_id(task_id))
        self.ctx.failpoint(self.name)


class ScheduleDrop(CloneTask):
    """Record each source's old data to be dropped once the flow has succeeded (the leftover
    retry carries it out then, and never before: until the flow ends the swap can be undone).

    Revert: mark those records resolved, so nothing is dropped.
    """

    def execute(self, task_id: str, backend: str, source_ids: list[str]) -> None:
        self.ctx.schedule(task_id, self.name, Undo.DROP_OLD_DATA, [kept_ref(task_id, s) for s in source_ids],
                          backend)
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, **_: Any) -> None:
        self.ctx.unschedule(task_id, Undo.DROP_OLD_DATA)


class ReleaseVolumes(CloneTask):
    """The last step: the sources go ``available`` with their new data; sources and clones are
    ungrouped.

    Revert: hold the sources again (``available`` -> ``reverting``), and the group again, for the
    swap back.
    """

    def execute(self, task_id: str, source_ids: list[str]) -> None:
        self.ctx.volumes.set_status(source_ids, VolumeStatus.AVAILABLE, only_from=HELD)
        self.ctx.groups.delete(revert_group_id(task_id))
        self.ctx.failpoint(self.name)

    def revert(self, task_id: str, project_id: str, source_ids: list[str], clone_ids: list[str],
               **_: Any) -> None:
        self.ctx.groups.add(revert_group_id(task_id), task_id, project_id, [*source_ids, *clone_ids])
        self.ctx.volumes.set_status(source_ids, VolumeStatus.REVERTING, only_from=frozenset({VolumeStatus.AVAILABLE}))


#: The task class of every step, in the order the flow runs them.
TASKS: dict[RevertStep, type[CloneTask]] = {
    RevertStep.HOLD_VOLUMES: HoldVolumes,
    RevertStep.SNAPSHOT_CLONES: SnapshotClones,
    RevertStep.PREPARE_DATA: PrepareData,
    RevertStep.SWAP_IN: SwapIn,
    RevertStep.DELETE_SNAPSHOT: DeleteClonesSnapshot,
    RevertStep.SCHEDULE_DROP: ScheduleDrop,
    RevertStep.RELEASE_VOLUMES: ReleaseVolumes,
}


def build_revert_flow(ctx: CloneContext, task_id: str) -> linear_flow.Flow:
    """The revert-in-place flow for one request. Task names derive from the task id only."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(*(cls(ctx, step.task_name(task_id), task_id) for step, cls in TASKS.items()))
    return flow
