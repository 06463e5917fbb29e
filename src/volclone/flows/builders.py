"""Which flow a clone task runs, by its kind: the one place that maps a
:class:`~volclone.flows.model.TaskKind` to its flow builder and flow name.

    build(ctx, task_id, TaskKind.of_store(row.request))   # the service's resume, a worker's factory
"""

from __future__ import annotations

from taskflow.patterns import linear_flow

from volclone.flows import clone_volumes, group_from_snapshot, revert_volumes
from volclone.flows.clone_volumes import CloneContext
from volclone.flows.model import TaskKind

FLOW_NAMES = {TaskKind.CLONE: clone_volumes.FLOW_NAME, TaskKind.REVERT: revert_volumes.FLOW_NAME,
              TaskKind.GROUP_FROM_SNAPSHOT: group_from_snapshot.FLOW_NAME}


def build(ctx: CloneContext, task_id: str, kind: TaskKind = TaskKind.CLONE) -> linear_flow.Flow:
    if kind is TaskKind.REVERT:
        return revert_volumes.build_revert_flow(ctx, task_id)
    if kind is TaskKind.GROUP_FROM_SNAPSHOT:
        return group_from_snapshot.build_flow(ctx, task_id)
    return clone_volumes.build_flow(ctx, task_id)
