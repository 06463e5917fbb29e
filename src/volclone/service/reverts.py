"""Reverting a set in place: the checks made before a revert flow starts, and its store.

``POST /v3/{project_id}/clone-volumes/revert`` names a clone task that ended ``SUCCESS``; its
sources get their clones' data back (:mod:`volclone.flows.revert_volumes`). Everything is
checked up front, and a refusal changes nothing:

* the task is not there, or is another project's: 404;
* it is not a clone task (a revert's), or it has not ended ``SUCCESS``: 409;
* a source was deleted: 404; a clone was deleted: 409 (naming it);
* a source is attached (``in-use``) or otherwise not ``available``, or a clone is not
  ``available``/``in-use``: 409;
* a source or a clone changed size since the clone: 409;
* a clone on another backend than its source, or a backend that can't snapshot a group or
  swap a volume's data: 400 (``CapabilityMissing``).
"""

from __future__ import annotations

from typing import Any

from taskflow import states
from taskflow.persistence import models

from volclone.backends.base import DataSwappable, GroupSnapshotCapable, VolumeDriver
from volclone.db.repos import Groups, Volumes
from volclone.db.schema import CloneTaskRow
from volclone.domain import CLONEABLE, VolumeStatus
from volclone.errors import CapabilityMissing, Conflict, NotFound
from volclone.flows.model import CloneSpec, Step, TaskKind


def frozen_sizes(detail: models.FlowDetail) -> dict[str, int]:
    """Each source's size (GiB) at the clone's consistency point, as its flow recorded it."""
    for atom in detail:
        if Step.of(atom.name) is Step.CREATE_GROUP_SNAPSHOT and isinstance(atom.results, dict):
            return {vid: int(s["size"]) for vid, s in (atom.results.get("sources") or {}).items()
                    if isinstance(s, dict) and s.get("size") is not None}
    return {}


def revert_store(row: CloneTaskRow | None, detail: models.FlowDetail | None, project_id: str, task_id: str,
                 volumes: Volumes, groups: Groups, driver: VolumeDriver | None) -> dict[str, Any]:
    """Check that clone task ``row`` can be reverted in place now; the revert flow's store.

    ``driver`` is the sources' backend (None: the task names none that is configured)."""
    if row is None or row.project_id != project_id:
        raise NotFound(f"clone task {task_id} could not be found")
    if TaskKind.of_store(row.request) is not TaskKind.CLONE:
        raise Conflict(f"task {task_id} is a revert, not a clone; name the clone task to revert to")
    if detail is None or detail.state != states.SUCCESS:
        state = detail.state if detail is not None else "gone"
        raise Conflict(f"clone task {task_id} is {state}; only a clone task that ended SUCCESS can be reverted to")
    backend = str(row.request["backend"])
    specs = CloneSpec.load_all(row.request["clones"], backend)
    other = sorted({c.backend for c in specs} - {backend})
    if other:
        raise CapabilityMissing(f"the clones of task {task_id} are on backend {', '.join(other)}, not on their "
                                f"sources' ({backend}); a revert in place needs them on one backend")
    if driver is None or not isinstance(driver, GroupSnapshotCapable) or not isinstance(driver, DataSwappable):
        raise CapabilityMissing(f"backend {backend} cannot swap a volume's data for other data; its volumes "
                                "can't be reverted in place")
    found = volumes.get_many([*(c.source for c in specs), *(c.id for c in specs)])
    sizes = frozen_sizes(detail)
    for c in specs:
        source, clone = found.get(c.source), found.get(c.id)
        if source is None or source.project_id != project_id:
            raise NotFound(f"volume {c.source}, a source of clone task {task_id}, was deleted")
        if source.status is VolumeStatus.IN_USE or source.attachments:
            raise Conflict(f"volume {c.source} is attached; detach it to revert it in place")
        if source.status is not VolumeStatus.AVAILABLE:
            raise Conflict(f"volume {c.source} is {source.status.value}; only available volumes can be "
                           "reverted in place")
        if clone is None:
            raise Conflict(f"clone {c.id} of volume {c.source} was deleted; task {task_id} can't be reverted to")
        if clone.status not in CLONEABLE:
            raise Conflict(f"clone {c.id} of volume {c.source} is {clone.status.value}")
        size = sizes.get(c.source, clone.size)
        if source.size != size or clone.size != size:
            raise Conflict(f"volume {c.source} or its clone {c.id} changed size since the clone "
                           f"({size} GiB then; now {source.size} and {clone.size} GiB)")
    busy = [v for c in specs for v in (c.source, c.id) if groups.grouped(v)]
    if busy:
        raise Conflict(f"volumes {', '.join(busy)} are in use by a clone or revert task that runs")
    return {"kind": TaskKind.REVERT.value, "project_id": project_id, "backend": backend, "clone_task_id": task_id,
            "source_ids": [c.source for c in specs], "clone_ids": [c.id for c in specs],
            "sizes": {c.source: found[c.source].size for c in specs}}
