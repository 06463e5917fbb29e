"""Cinder's ``create-from-src`` (3.14): a new generic group made from a source group or from a
group snapshot, its volumes one consistent set, made by ONE persisted flow::

    g = svc.group_sources.create(who, "p1", source_group_id=src.id, name="copy")
    g = svc.group_sources.create(who, "p1", group_snapshot_id=gs.id)

* ``source_group_id``: the clone-volumes flow (:mod:`volclone.flows.clone_volumes`) clones every
  member of the source group at one consistency point (attached or not), with its progress,
  cancel and revert; the clones are the new group's members.
* ``group_snapshot_id``: the group snapshot froze the point already; the group-from-snapshot
  flow (:mod:`volclone.flows.group_from_snapshot`) makes each new volume from its member
  snapshot (the volume-from-snapshot path), with the same persistence and revert.

The new group has the source's group type and volume types, is ``creating`` until the flow ends,
then ``available`` (its volumes too), or ``error`` if the flow reverted (every volume it made
removed; a user message on the group). Its volumes' metadata names the flow's task
(``clone_task_id``): ``clone-volumes/get_progress?task_id=...`` follows it.

Checks, in Cinder's order and before anything is made: exactly one of the ids (400), the source
is the project's (404) and ``available`` (400), its volumes or member snapshots can be used (400),
then the quotas: ``volumes`` and ``gigabytes`` for the new volumes, ``groups`` for the group (413).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from volclone.db.generic_groups import Groups
from volclone.db.repos import Volumes
from volclone.domain import (
    CloneRequest,
    Group,
    GroupSnapshotStatus,
    GroupStatus,
    Principal,
    SnapshotStatus,
    TaskKind,
)
from volclone.errors import BadRequest, NotFound
from volclone.service.clones import CloneService
from volclone.service.group_snapshots import GroupSnapshotService
from volclone.service.quotas import QuotaService, Reserved

log = logging.getLogger(__name__)


class GroupSourceService:
    def __init__(self, groups: Groups, group_snapshots: GroupSnapshotService, clones: CloneService,
                 volumes: Volumes, quotas: QuotaService | None = None) -> None:
        self.groups = groups
        self.group_snapshots = group_snapshots
        self.clones = clones
        self.volumes = volumes
        self.quotas = quotas

    def create(self, who: Principal, project_id: str, group_snapshot_id: str | None = None,
               source_group_id: str | None = None, name: str | None = None,
               description: str | None = None) -> Group:
        """Check, record the group ``creating`` and start its flow; returns the group."""
        if group_snapshot_id is not None and source_group_id is not None:
            raise BadRequest(f"Invalid input received: Cannot create group {name} from both group snapshot "
                             f"{group_snapshot_id} and source group {source_group_id}.")
        if source_group_id is not None:
            return self._from_group(who, project_id, source_group_id, name, description)
        if group_snapshot_id is not None:
            return self._from_group_snapshot(who, project_id, group_snapshot_id, name, description)
        raise BadRequest(f"Invalid input received: Either 'group_snapshot_id' or 'source_group_id' must be "
                         f"provided to create group {name} from source.")

    # -- from a group -------------------------------------------------------------------
    def _from_group(self, who: Principal, project_id: str, source_id: str, name: str | None,
                    description: str | None) -> Group:
        source = self.groups.get(source_id)
        if source is None or source.project_id != project_id:
            raise NotFound(f"Group {source_id} could not be found.")
        if source.status is not GroupStatus.AVAILABLE:
            raise BadRequest(f"Invalid group: Source group {source_id} status must be available, but current "
                             f"status is: {source.status.value}.")
        group = self._new_group(project_id, source, name, description, source_group_id=source_id)
        members = self.groups.member_ids(source_id)
        if not members:
            return self._record_empty(group)
        checked = self.clones.check_unnamed(who, CloneRequest(project_id, members))
        clones = [dataclasses.replace(c, name=checked.sources[c.source].name or "",
                                      description=checked.sources[c.source].description) for c in checked.clones]
        task_id = str(uuid.uuid4())
        store: dict[str, Any] = {"task_id": task_id, "project_id": project_id, "backend": checked.backend,
                                 "source_ids": list(members), "clones": [c.to_json() for c in clones],
                                 "user_id": who.user_id, "target_group_id": group.id}
        return self._start(group, task_id, store, [(c.id, checked.sizes[c.source], c.volume_type_id)
                                                        for c in clones])

    # -- from a group snapshot ----------------------------------------------------------
    def _from_group_snapshot(self, who: Principal, project_id: str, gs_id: str, name: str | None,
                             description: str | None) -> Group:
        gs = self.group_snapshots.repo.get(gs_id)
        if gs is None or gs.project_id != project_id:
            raise NotFound(f"GroupSnapshot {gs_id} could not be found.")
        if gs.status is not GroupSnapshotStatus.AVAILABLE:
            raise BadRequest(f"Invalid GroupSnapshot: Group snapshot {gs_id} status must be available, but "
                             f"current status is: {gs.status.value}.")
        source = self.groups.get(gs.group_id)
        if source is None:
            raise NotFound(f"Group {gs.group_id} could not be found.")
        group = self._new_group(project_id, source, name, description, group_snapshot_id=gs_id)
        members = self.group_snapshots.members(gs_id)
        if not members:
            return self._record_empty(group)
        for snap in members:
            if snap.status is not SnapshotStatus.AVAILABLE:
                raise BadRequest(f"Invalid snapshot: member snapshot {snap.id} of group snapshot {gs_id} is "
                                 f"{snap.status.value}; it must be available.")
        backends = {s.backend for s in members}
        if len(backends) != 1:
            raise BadRequest(f"Invalid GroupSnapshot: the member snapshots of {gs_id} are on several backends")
        origins = self.volumes.get_many([s.volume_id for s in members])
        planned: list[dict[str, Any]] = []
        for snap in members:
            origin = origins.get(snap.volume_id)
            if origin is None:
                raise BadRequest(f"Invalid snapshot: the volume of member snapshot {snap.id} is gone")
            planned.append({"id": str(uuid.uuid4()), "snapshot_id": snap.id, "volume_id": snap.volume_id,
                            "size": snap.volume_size, "name": origin.name, "description": origin.description,
                            "volume_type_id": origin.volume_type_id, "bootable": origin.bootable})
        task_id = str(uuid.uuid4())
        store: dict[str, Any] = {"kind": TaskKind.GROUP_FROM_SNAPSHOT.value, "task_id": task_id,
                                 "project_id": project_id, "backend": backends.pop(), "user_id": who.user_id,
                                 "target_group_id": group.id, "source_ids": [s.id for s in members],
                                 "clone_ids": [v["id"] for v in planned], "volumes": planned}
        return self._start(group, task_id, store, [(v["id"], int(v["size"]), v["volume_type_id"])
                                                        for v in planned])

    # -- the common part ----------------------------------------------------------------
    @staticmethod
    def _new_group(project_id: str, source: Group, name: str | None, description: str | None,
                   group_snapshot_id: str | None = None, source_group_id: str | None = None) -> Group:
        return Group(id=str(uuid.uuid4()), project_id=project_id, name=name, description=description,
                     group_type_id=source.group_type_id, volume_type_ids=list(source.volume_type_ids),
                     status=GroupStatus.CREATING, availability_zone=source.availability_zone,
                     group_snapshot_id=group_snapshot_id, source_group_id=source_group_id)

    def _add_group(self, group: Group) -> None:
        if self.quotas is not None:
            self.quotas.add_group(group)  # 413, and nothing recorded
        else:
            self.groups.add(group)

    def _record_empty(self, group: Group) -> Group:
        """A source with no volumes: the new group has none either, and is made at once."""
        self._add_group(dataclasses.replace(group, status=GroupStatus.AVAILABLE))
        return self._made(group.id)

    def _start(self, group: Group, task_id: str, store: dict[str, Any], volumes: list[Reserved]) -> Group:
        """Quotas (413, nothing made), then the group (``creating``) and its flow; a failure to
        start removes both and rolls the reservation back."""
        if self.quotas is not None:
            self.quotas.check(group.project_id, volumes)
        self._add_group(group)
        try:
            if self.quotas is not None:  # held until the flow records the volumes (or reverts)
                self.quotas.reserve(group.project_id, task_id, volumes)
            try:
                self.clones.launch(task_id, group.project_id, store)
            except BaseException:
                if self.quotas is not None:
                    self.quotas.release(task_id)
                raise
        except BaseException:
            self.groups.delete(group.id)
            raise
        log.info("group %s from %s: task %s", group.id, group.source_group_id or group.group_snapshot_id, task_id)
        return self._made(group.id)

    def _made(self, group_id: str) -> Group:
        made = self.groups.get(group_id)
        if made is None:  # deleted meanwhile by its project
            raise NotFound(f"Group {group_id} could not be found.")
        return made
