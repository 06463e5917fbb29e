"""get_progress, derived from the flow's persisted state (TaskFlow's atom details).

``progress`` is the share of steps that are done, where a running step counts
with its own reported fraction and a failed or reverted step counts as done.
It therefore never goes down while the flow runs (a revert only moves steps
from done to done), stays below 100 until the flow ends, and is 100 when it
ends either way.
"""

from __future__ import annotations

import math
from typing import Any

from taskflow import states
from taskflow.persistence import models

from volclone.domain import CloneProgress, TaskState
from volclone.flows.clone_volumes import FLOW_NAME
from volclone.flows.engine import FINISHED

_DONE = frozenset({states.SUCCESS, states.FAILURE, states.REVERTING, states.REVERTED, states.REVERT_FAILURE})
_AS_TASK_STATE = {
    states.PENDING: TaskState.PENDING,
    states.IGNORE: TaskState.PENDING,
    states.RUNNING: TaskState.RUNNING,
    states.SUCCESS: TaskState.SUCCESS,
    states.FAILURE: TaskState.FAILURE,
    states.REVERT_FAILURE: TaskState.FAILURE,
    states.REVERTING: TaskState.REVERTING,
    states.REVERTED: TaskState.REVERTED,
}
_FLOW_STATE = {
    states.SUCCESS: TaskState.SUCCESS,
    states.REVERTED: TaskState.REVERTED,
    states.FAILURE: TaskState.FAILURE,
    states.REVERTING: TaskState.REVERTING,
    states.PENDING: TaskState.PENDING,
}


#: Steps that may copy data weigh more, so ``progress`` moves with the bytes copied.
WEIGHTS = {"create_group_clone": 5.0}


def _weight(atom: models.AtomDetail) -> float:
    return next((w for prefix, w in WEIGHTS.items() if atom.name.startswith(prefix)), 1.0)


def _fraction(atom: models.AtomDetail) -> float:
    if atom.state in _DONE:
        return 1.0
    if atom.state == states.RUNNING:
        return float((atom.meta or {}).get("progress", 0.0))
    return 0.0


def first_failure(detail: models.FlowDetail) -> str | None:
    for atom in detail:
        if atom.failure is not None:
            return str(atom.failure.exception_str)
    return None


def read_progress(task_id: str, detail: models.FlowDetail, clone_map: dict[str, str]) -> CloneProgress:
    """The progress of one clone task. ``clone_map`` is source id -> clone id."""
    atoms = list(detail)
    steps = [a for a in atoms if not a.name.startswith("_TaskFlow")]
    finished = detail.state in FINISHED
    if finished:
        progress = 100
    else:
        done = sum(_weight(a) * _fraction(a) for a in steps)
        total = sum(_weight(a) for a in steps)
        progress = min(99, math.floor(100 * done / total)) if steps else 0
    tasks = {a.name: _AS_TASK_STATE.get(a.state, TaskState.PENDING) for a in atoms}
    flow_state = _FLOW_STATE.get(detail.state, TaskState.RUNNING)
    results: dict[str, str]
    if detail.state == states.SUCCESS:
        results = dict(clone_map)
    elif finished:
        results = {"failure": first_failure(detail) or "the clone flow failed"}
    else:
        results = {}
    extra: dict[str, Any] = {}
    for atom in atoms:
        if atom.name.startswith("create_group_snapshot") and isinstance(atom.results, dict):
            freeze = atom.results.get("io_freeze_ms")
            if freeze is not None:
                extra["io_freeze_ms"] = round(float(freeze), 3)
        copied = ((atom.meta or {}).get("progress_details") or {}).get("details") or {}
        if "bytes_total" in copied:
            extra["bytes_done"] = copied["bytes_done"]
            extra["bytes_total"] = copied["bytes_total"]
    return CloneProgress(task_id=task_id, flow_name=FLOW_NAME, flow_state=flow_state, progress=progress,
                         tasks=tasks, results=results, extra=extra)
