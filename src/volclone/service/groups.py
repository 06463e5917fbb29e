"""Cinder's generic volume groups (3.13)::

    groups = svc.groups
    g = groups.create(who, "p1", group_type="consistent", volume_types=["__DEFAULT__"], name="db")
    groups.update(who, "p1", g.id, add_volumes=[v1.id, v2.id])
    groups.delete(who, "p1", g.id, delete_volumes=True)

The rules are Cinder's (``cinder/group/api.py``): a group is updated only while ``available`` or
``in-use``; a volume joins only when it is ``available`` or ``in-use``, the project's, of one of the
group's volume types and in no other group; a volume leaves from ``available``, ``in-use``,
``error`` or ``error_deleting``. A group is deleted from ``available`` or ``error``; one with
volumes only with ``delete-volumes``, and then none of them may be attached. Each new group counts
against the project's ``groups`` quota.
"""

from __future__ import annotations

import builtins
import uuid

from volclone.db.generic_groups import Groups
from volclone.db.group_snapshots import GroupSnapshots
from volclone.domain import Group, GroupStatus, PageQuery, Principal, VolumeStatus
from volclone.errors import BadRequest, InvalidVolume, NotFound
from volclone.service.group_types import GroupTypeService
from volclone.service.quotas import QuotaService
from volclone.service.volumes import VolumeService, VolumeTypeService

#: Statuses (Cinder's) a group is updated from, and deleted from.
UPDATABLE = frozenset({GroupStatus.AVAILABLE, GroupStatus.IN_USE})
DELETABLE = frozenset({GroupStatus.AVAILABLE, GroupStatus.ERROR})
#: What a volume may be to join a group, and to leave one.
JOINABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
LEAVABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE, VolumeStatus.ERROR,
                      VolumeStatus.ERROR_DELETING})
_UPDATING = frozenset({GroupStatus.UPDATING})
_DELETING = frozenset({GroupStatus.DELETING})


class GroupService:
    def __init__(self, repo: Groups, group_types: GroupTypeService, types: VolumeTypeService,
                 volumes: VolumeService, quotas: QuotaService | None = None,
                 group_snapshots: GroupSnapshots | None = None) -> None:
        self.repo = repo
        #: A group with group snapshots is not deleted (Cinder's rule).
        self.group_snapshots = group_snapshots
        self.group_types = group_types
        self.types = types
        self.volumes = volumes
        self.quotas = quotas

    # -- lookups --------------------------------------------------------------------------
    def get(self, who: Principal, project_id: str, group_id: str) -> Group:
        group = self.repo.get(group_id)
        if group is None or (group.project_id != project_id and not who.is_admin):
            raise NotFound(f"Group {group_id} could not be found.")
        return group

    def page(self, who: Principal, project_id: str, query: PageQuery | None = None,
             all_projects: bool = False) -> builtins.list[Group]:
        """The project's groups ``query`` selects (``all_projects``, an admin's: every project's),
        one page; a marker ``who`` can't see is a 404, as Cinder's."""
        query = query or PageQuery()
        scope = None if (all_projects and who.is_admin) else project_id
        if query.marker is not None:
            self.get(who, project_id, query.marker)
        return self.repo.page(scope, query)

    def member_ids(self, group_id: str) -> builtins.list[str]:
        return self.repo.member_ids(group_id)

    # -- create ---------------------------------------------------------------------------
    def create(self, who: Principal, project_id: str, group_type: str, volume_types: builtins.list[str],
               name: str | None = None, description: str | None = None,
               availability_zone: str = "nova") -> Group:
        """Check the group type (404), every volume type (404) and the ``groups`` quota (413)."""
        gtype = self.group_types.get(who, group_type)
        if not volume_types:
            raise BadRequest("volume_types must be provided to create group.")
        type_ids: builtins.list[str] = []
        for ref in volume_types:
            vtype = self.types.find(ref, who)
            if vtype.id not in type_ids:
                type_ids.append(vtype.id)
        group = Group(id=str(uuid.uuid4()), project_id=project_id, name=name, description=description,
                      group_type_id=gtype.id, volume_type_ids=type_ids, status=GroupStatus.AVAILABLE,
                      availability_zone=availability_zone)
        if self.quotas is not None:
            self.quotas.add_group(group)  # 413, and nothing recorded
        else:
            self.repo.add(group)
        made = self.repo.get(group.id)
        assert made is not None
        return made

    # -- update ---------------------------------------------------------------------------
    def update(self, who: Principal, project_id: str, group_id: str, name: str | None = None,
               description: str | None = None, add_volumes: builtins.list[str] | None = None,
               remove_volumes: builtins.list[str] | None = None) -> Group:
        """Rename, describe, and move volumes in and out, all or nothing (400 for any volume that
        can't move; 404 for one the caller can't see)."""
        group = self.get(who, project_id, group_id)
        add, remove = list(dict.fromkeys(add_volumes or [])), list(dict.fromkeys(remove_volumes or []))
        if name is None and description is None and not add and not remove:
            raise BadRequest("Name, description, add_volumes, and remove_volumes can not be all empty in the "
                             "request body.")
        both = set(add) & set(remove)
        if both:
            raise BadRequest(f"Invalid volume: Volume {sorted(both)[0]} is in both add and remove volume list.")
        if group.status not in UPDATABLE:
            raise BadRequest(f"Invalid group: Group {group_id} status must be available or in-use, but current "
                             f"status is: {group.status.value}.")
        for volume_id in add:
            self._check_joins(who, group, volume_id)
        for volume_id in remove:
            self._check_leaves(who, group, volume_id)
        fields: dict[str, object] = {}
        if name is not None:
            fields["name"] = name
        if description is not None:
            fields["description"] = description
        if add or remove:
            if not self.repo.set_status(group_id, GroupStatus.UPDATING, only_from=UPDATABLE):
                raise BadRequest(f"Invalid group: Group {group_id} changed state; try again")
            try:
                if not self.repo.set_members(group_id, add, remove, JOINABLE, LEAVABLE):
                    raise InvalidVolume("a volume to add or remove changed state meanwhile; nothing was changed, "
                                        "try again")
            finally:
                self.repo.set_status(group_id, group.status, only_from=_UPDATING)
        updated = self.repo.update(group_id, **fields) if fields else self.repo.get(group_id)
        assert updated is not None
        return updated

    def _check_joins(self, who: Principal, group: Group, volume_id: str) -> None:
        try:
            vol = self.volumes.get(who, group.project_id, volume_id)
        except NotFound:
            raise BadRequest(f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because volume "
                             "cannot be found.") from None
        if vol.group_id is not None:
            which = "this" if vol.group_id == group.id else "another"
            raise BadRequest(f"Invalid volume: Volume {volume_id} is already in {which} group {vol.group_id}.")
        if vol.status not in JOINABLE:
            raise BadRequest(f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because volume is "
                             f"in an invalid state: {vol.status.value}. Valid states are: available, in-use.")
        if vol.volume_type_id not in group.volume_type_ids:
            raise BadRequest(f"Invalid volume: Cannot add volume {volume_id} to group {group.id} because volume "
                             "type is not supported by the group.")

    def _check_leaves(self, who: Principal, group: Group, volume_id: str) -> None:
        try:
            vol = self.volumes.get(who, group.project_id, volume_id)
        except NotFound:
            vol = None
        if vol is None or vol.group_id != group.id:
            raise BadRequest(f"Invalid volume: Volume {volume_id} is not in group {group.id}.")
        if vol.status not in LEAVABLE:
            raise BadRequest(f"Invalid volume: Cannot remove volume {volume_id} from group {group.id} because "
                             f"volume is in an invalid state: {vol.status.value}. Valid states are: "
                             f"{', '.join(sorted(s.value for s in LEAVABLE))}.")

    # -- delete ---------------------------------------------------------------------------
    def reset_status(self, who: Principal, project_id: str, group_id: str, status: str) -> Group:
        """Cinder's admin ``reset_status`` (3.20): the group's status becomes ``status``, any of
        Cinder's group statuses (else 400), from whatever it is; nothing else changes."""
        group = self.get(who, project_id, group_id)
        try:
            new = GroupStatus(status)
        except ValueError:
            valid = ", ".join(s.value for s in GroupStatus)
            raise BadRequest(f"Invalid group status: {status}, valid statuses are: {valid}.") from None
        done = self.repo.update(group.id, status=new)
        if done is None:
            raise NotFound(f"Group {group_id} could not be found.")
        return done

    def delete(self, who: Principal, project_id: str, group_id: str, delete_volumes: bool = False) -> None:
        """From ``available`` or ``error``. Its volumes go with it only with ``delete_volumes``
        (400 otherwise, and for an attached one); a volume that can't be deleted leaves the
        group ``error_deleting`` with the rest of its volumes."""
        group = self.get(who, project_id, group_id)
        if group.status not in DELETABLE:
            raise BadRequest(f"Invalid group: Group status must be available or error, but current status is: "
                             f"{group.status.value}")
        if self.group_snapshots is not None and self.group_snapshots.of_group(group_id):
            raise BadRequest(f"Invalid group: Group {group_id} has group snapshots; delete them first.")
        members = self.repo.member_ids(group_id)
        if members and not delete_volumes:
            raise BadRequest(f"Invalid group: Group {group_id} still contains volumes. The delete-volumes flag is "
                             "required to delete it.")
        for volume_id in members:
            vol = self.volumes.get(who, project_id, volume_id)
            if vol.attachments or vol.status is VolumeStatus.IN_USE:
                raise BadRequest(f"Invalid group: Volume {volume_id} in group {group_id} is attached. Need to "
                                 "detach first.")
        if not self.repo.set_status(group_id, GroupStatus.DELETING, only_from=DELETABLE):
            raise BadRequest(f"Invalid group: Group {group_id} changed state; try again")
        try:
            for volume_id in members:
                self.volumes.delete(who, project_id, volume_id)
        except Exception:
            self.repo.set_status(group_id, GroupStatus.ERROR_DELETING, only_from=_DELETING)
            raise
        self.repo.delete(group_id)
