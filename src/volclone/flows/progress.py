"""get_progress, derived from the flow's persisted state (TaskFlow's atom details).

``progress`` is the share of steps that are done, where a running step counts
with its own reported fraction and a failed or reverted step counts as done.
It therefore never goes down while the flow runs (a revert only moves steps
from done to done), stays below 100 until the flow ends, and is 100 when it
ends either way.

Which steps are listed (``completed_tasks`` / ``pending_tasks``):

* While the flow runs, every step: those not started yet are ``PENDING`` in ``pending_tasks``.
* Once it reverts (``REVERTING``) and after it ended ``REVERTED`` or ``FAILURE``, steps that
  never ran are **left out**: they did nothing and nothing of theirs was undone, so neither
  ``PENDING`` (they never will run) nor ``REVERTED`` would be true. A finished flow's
  ``pending_tasks`` is therefore always ``{}``, as in the spec's examples.
* A step that ran and was undone is ``REVERTED``; a step whose revert left something
  behind (recorded as a leftover, retried until gone) is ``FAILURE``.

``results`` is source id -> clone id after ``SUCCESS``; after ``REVERTED`` it is
``{"failure": "<why the flow failed>"}``, and after ``FAILURE`` (the revert left things
behind) ``{"failure": "<why the flow failed>; the revert could not undo everything; ...:
<each item and why>"}``. Messages are what a tenant may read: no server paths, no stack
traces (the server log has the full errors).
"""

from __future__ import annotations

import math
from typing import Any

from taskflow import states
from taskflow.persistence import models

from volclone.domain import FINISHED, CloneProgress, TaskState
from volclone.errors import RevertIncomplete, VolcloneError
from volclone.flows.clone_volumes import FLOW_NAME
from volclone.flows.messages import tenant_message
from volclone.flows.model import CloneSpec, RevertStep, Step

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


#: Flow states in which a step that has not run never will.
_UNDOING = frozenset({states.REVERTING, states.REVERTED, states.FAILURE})
_NEVER_RAN = frozenset({states.PENDING, states.IGNORE})

#: Steps that may copy data weigh more, so ``progress`` moves with the bytes copied.
WEIGHTS: dict[Step | RevertStep, float] = {Step.CREATE_GROUP_CLONE: 5.0, RevertStep.PREPARE_DATA: 5.0}


def _weight(atom: models.AtomDetail) -> float:
    step = Step.of(atom.name) or RevertStep.of(atom.name)
    return WEIGHTS.get(step, 1.0) if step is not None else 1.0


def _fraction(atom: models.AtomDetail) -> float:
    if atom.state in _DONE:
        return 1.0
    if atom.state == states.RUNNING:
        return float((atom.meta or {}).get("progress", 0.0))
    return 0.0


def _tenant_text(fail: Any) -> str:
    """A persisted TaskFlow failure as a tenant may read it."""
    text = tenant_message(str(fail.exception_str))
    if fail.check(VolcloneError) is not None:
        return text
    return f"an internal error ({text if fail.check(OSError) is not None else 'details are in the server log'})"


def first_failure(detail: models.FlowDetail) -> str | None:
    """Why the flow failed, then what its revert left behind (if it did), cleaned for tenants."""
    parts = [_tenant_text(a.failure) for a in detail if a.failure is not None][:1]
    parts += [_tenant_text(a.revert_failure) for a in detail if a.revert_failure is not None]
    return "; ".join(parts) or None


def _step_state(atom: models.AtomDetail, revert_failed: frozenset[str]) -> TaskState:
    if atom.name in revert_failed:
        return TaskState.FAILURE
    if atom.state == states.REVERT_FAILURE and atom.revert_failure is not None \
            and atom.revert_failure.check(RevertIncomplete) is not None:
        return TaskState.REVERTED  # it undid its own part; it only reports the others'
    return _AS_TASK_STATE.get(atom.state, TaskState.PENDING)


def manifest(clones: list[CloneSpec], frozen: dict[str, Any], metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The set, in request order: each clone (id, name, size, type, metadata as copied) with its
    source as the consistency point found it (bootable, attachments)."""
    entries = []
    for c in clones:
        source = frozen.get(c.source) or {}
        entries.append({"source_id": c.source, "clone_id": c.id, "name": c.name, "size": source.get("size"),
                        "volume_type_id": c.volume_type_id, "bootable": bool(source.get("bootable", False)),
                        "attachments": list(source.get("attachments") or []),
                        "metadata": dict(metadata.get(c.id) or {})})
    return entries


def read_progress(task_id: str, detail: models.FlowDetail, clone_map: dict[str, str],
                  revert_failed: frozenset[str] = frozenset(),
                  clones: list[CloneSpec] | None = None, flow_name: str = FLOW_NAME) -> CloneProgress:
    """The progress of one clone task. ``clone_map`` is source id -> clone id; ``revert_failed``
    names the steps whose revert left something behind; with ``clones`` (the request's, in its
    order) a flow that succeeded lists the set in ``manifest``. A revert in place's task
    (``flow_name`` ``revertFlow``) reads the same way; its ``results`` are source id -> the
    clone whose data the source now holds."""
    atoms = list(detail)
    steps = [a for a in atoms if not a.name.startswith("_TaskFlow")]
    finished = detail.state in FINISHED
    if finished:
        progress = 100
    else:
        done = sum(_weight(a) * _fraction(a) for a in steps)
        total = sum(_weight(a) for a in steps)
        progress = min(99, math.floor(100 * done / total)) if steps else 0
    undoing = detail.state in _UNDOING
    tasks = {a.name: _step_state(a, revert_failed) for a in atoms if not (undoing and a.state in _NEVER_RAN)}
    flow_state = _FLOW_STATE.get(detail.state, TaskState.RUNNING)
    results: dict[str, str]
    if detail.state == states.SUCCESS:
        results = dict(clone_map)
    elif finished:
        results = {"failure": first_failure(detail) or ("the clone flow failed" if flow_name == FLOW_NAME
                                                       else "the revert flow failed")}
    else:
        results = {}
    extra: dict[str, Any] = {}
    frozen: dict[str, Any] = {}
    copied_metadata: dict[str, Any] = {}
    for atom in atoms:
        if Step.of(atom.name) is Step.SET_METADATA and isinstance(atom.results, dict):
            copied_metadata = atom.results.get("metadata") or {}
        if Step.of(atom.name) is Step.CREATE_GROUP_SNAPSHOT and isinstance(atom.results, dict):
            freeze = atom.results.get("io_freeze_ms")
            if freeze is not None:
                extra["io_freeze_ms"] = round(float(freeze), 3)
            if isinstance(atom.results.get("consistency"), dict) and atom.state == states.SUCCESS:
                extra["consistency"] = dict(atom.results["consistency"])
                frozen = atom.results.get("sources") or {}
        copied = ((atom.meta or {}).get("progress_details") or {}).get("details") or {}
        if "bytes_total" in copied:
            extra["bytes_done"] = copied["bytes_done"]
            extra["bytes_total"] = copied["bytes_total"]
            if atom.state == states.RUNNING and "bytes_per_second" in copied:  # while data is copied
                extra["bytes_per_second"] = copied["bytes_per_second"]
                extra["eta_seconds"] = copied["eta_seconds"]
    if clones is not None and detail.state == states.SUCCESS:
        extra["manifest"] = manifest(clones, frozen, copied_metadata)
    return CloneProgress(task_id=task_id, flow_name=flow_name, flow_state=flow_state, progress=progress,
                         tasks=tasks, results=results, extra=extra)
