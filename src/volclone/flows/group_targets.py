"""The generic group a flow fills (Cinder's ``create-from-src``, 3.14): its volumes join it as
they are recorded, it becomes ``available`` with them at the flow's last step, and ``error``
when the flow reverts (after its volumes are gone).

A flow whose store names no ``target_group_id`` has no such group; these helpers then do nothing.
"""

from __future__ import annotations

import logging

from volclone.db.generic_groups import Groups as GenericGroups
from volclone.domain import GroupStatus

log = logging.getLogger(__name__)

_CREATING = frozenset({GroupStatus.CREATING})
_MADE = frozenset({GroupStatus.CREATING, GroupStatus.AVAILABLE})


def group_available(groups: GenericGroups | None, group_id: str | None) -> None:
    """The group's volumes are all ``available``: so is the group (from ``creating``)."""
    if groups is not None and group_id is not None:
        groups.set_status(group_id, GroupStatus.AVAILABLE, only_from=_CREATING)


def group_back_to_creating(groups: GenericGroups | None, group_id: str | None) -> None:
    """The last step's revert: the group is not made after all."""
    if groups is not None and group_id is not None:
        groups.set_status(group_id, GroupStatus.CREATING, only_from=frozenset({GroupStatus.AVAILABLE}))


def group_failed(groups: GenericGroups | None, group_id: str | None, task_id: str) -> None:
    """The flow reverted: the group is ``error`` (as Cinder leaves a failed create; it can be
    deleted). A failure to say so is logged, never raised: the revert goes on."""
    if groups is None or group_id is None:
        return
    try:
        groups.set_status(group_id, GroupStatus.ERROR, only_from=_MADE)
    except Exception:
        log.exception("task %s: group %s could not be marked error", task_id, group_id)
