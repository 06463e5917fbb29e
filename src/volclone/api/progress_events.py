"""The events of a get_progress stream, made from successive reads of one clone task's progress.

No I/O here: :class:`ProgressEvents` is handed each read (and the time it was made) and answers
the events it makes, the end event once the flow has finished::

    events = ProgressEvents(progress_interval=0.5)
    for event in events.update(read(), now=time.monotonic()):   # at the start, then after every poll
        send(event)
    if events.done: ...                                          # the last one was ``end``

The events (docs/events.md has examples):

* ``flow`` -- ``{"flow": "cloneFlow", "state": "RUNNING", "observed": true}``: the flow's state changed.
* ``state`` -- ``{"task": "<step>", "state": "SUCCESS", "observed": true}``: one step's state changed.
* ``progress`` -- ``{"progress": 42, "bytes_done": ..., "bytes_total": ..., "bytes_per_second": ...,
  "eta_seconds": ...}`` (the byte fields while the get_progress body has them): the numbers moved.
  Coalesced: at most one per ``progress_interval`` seconds, the newest numbers winning.
* ``end`` -- the full get_progress body, exactly as a plain GET answers it; the stream closes after it.
* ``error`` -- ``{"itemNotFound": {"code": 404, "message": "..."}}``: the task could no longer be read
  (a fault body, as a plain GET would answer); the stream closes after it.

States are never coalesced. Two reads are some time apart, so a step may pass a state between
them (``PENDING`` at one read, ``SUCCESS`` at the next): the states it must have passed through
on the way are sent too, in their order, with ``"observed": false``. Every step starts
``PENDING`` and a step that ended or is undone has run, so the way is known up to one point: a
step undone (``REVERTING``) after it was last seen ``RUNNING`` either succeeded or failed first,
and neither is made up. A stream's first events bring every step (and the flow) from ``PENDING``
to where it is. ``id`` counts a stream's events from 1; the end event's id is ``end``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from volclone.api import views
from volclone.domain import FINISHED, CloneProgress, TaskState

#: The id of the end event. A client that reconnects with ``Last-Event-ID: end`` had it all:
#: it gets a 204, which tells an EventSource to stop reconnecting.
END_ID = "end"
#: The get_progress ``details`` fields a progress event carries when they are there.
BYTE_FIELDS = ("bytes_done", "bytes_total", "bytes_per_second", "eta_seconds")

#: Where each state lies on the way every step (and the flow) goes: PENDING, RUNNING, then
#: SUCCESS or FAILURE, and if it is undone REVERTING, REVERTED (FAILURE again: its revert failed).
_RANK = {TaskState.PENDING: 0, TaskState.RUNNING: 1, TaskState.SUCCESS: 2, TaskState.FAILURE: 2,
         TaskState.REVERTING: 3, TaskState.REVERTED: 4}
#: The states that are passed through whatever comes after them (SUCCESS/FAILURE are not: either one).
_WAYPOINTS = (TaskState.PENDING, TaskState.RUNNING, TaskState.REVERTING)


@dataclasses.dataclass(frozen=True)
class Event:
    """One server-sent event: its name, its JSON data and its id."""

    name: str
    data: dict[str, Any]
    id: str


def passed(before: TaskState | None, now: TaskState) -> list[tuple[TaskState, bool]]:
    """The states a step went through from ``before`` (None: not seen yet) to ``now``, each with
    whether it was seen (``now``) or only follows from it.

        >>> [s.value for s, _ in passed(None, TaskState.SUCCESS)]
        ['PENDING', 'RUNNING', 'SUCCESS']
        >>> [(s.value, seen) for s, seen in passed(TaskState.RUNNING, TaskState.REVERTED)]
        [('REVERTING', False), ('REVERTED', True)]
    """
    if before == now:
        return []
    start = -1 if before is None else _RANK[before]
    if before is not None and start == 3 and now is TaskState.FAILURE:  # its revert failed
        return [(now, True)]
    if _RANK[now] <= start:  # back (a resumed flow runs a step again): only what is seen
        return [(now, True)]
    way = [(s, False) for s in _WAYPOINTS if start < _RANK[s] < _RANK[now]]
    return [*way, (now, True)]


def progress_data(p: CloneProgress) -> dict[str, Any]:
    """What a progress event carries: the percentage and, while the body has them, the bytes."""
    return {"progress": p.progress, **{k: p.extra[k] for k in BYTE_FIELDS if k in p.extra}}


class ProgressEvents:
    """The events of one stream; see the module's docstring."""

    def __init__(self, progress_interval: float = 0.5) -> None:
        self.progress_interval = progress_interval
        self.done = False
        self._count = 0
        self._flow: TaskState | None = None
        self._steps: dict[str, TaskState] = {}
        self._sent_progress: dict[str, Any] | None = None
        self._sent_at: float | None = None

    def _numbered(self, made: list[tuple[str, dict[str, Any]]]) -> list[Event]:
        events = []
        for name, data in made:
            self._count += 1
            events.append(Event(name, data, str(self._count)))
        return events

    def update(self, p: CloneProgress, now: float) -> list[Event]:
        """The events ``p`` (read at ``now``, in seconds of a monotonic clock) makes."""
        if self.done:
            raise RuntimeError("the stream has ended: no more events")
        flow = [("flow", {"flow": p.flow_name, "state": s.value, "observed": seen})
                for s, seen in passed(self._flow, p.flow_state)]
        self._flow = p.flow_state
        steps = [("state", {"task": name, "state": s.value, "observed": seen})
                 for name, state in p.tasks.items() for s, seen in passed(self._steps.get(name), state)]
        self._steps.update(p.tasks)
        # The flow's start before its steps' events, its end after them.
        ending = [e for e in flow if TaskState(e[1]["state"]) in FINISHED]
        made = [e for e in flow if e not in ending] + steps + ending
        if p.flow_state in FINISHED:
            self.done = True
            return [*self._numbered(made), Event("end", views.progress(p), END_ID)]
        numbers = progress_data(p)
        due = self._sent_at is None or now - self._sent_at >= self.progress_interval
        if numbers != self._sent_progress and due:
            self._sent_progress, self._sent_at = numbers, now
            made.append(("progress", numbers))
        return self._numbered(made)

    def error(self, status: int, fault: str, message: str) -> Event:
        """The last event of a stream that cannot go on (the task is gone, the database is down):
        ``error``, with the fault body a plain GET would have answered."""
        self.done = True
        [event] = self._numbered([("error", {fault: {"code": status, "message": message}})])
        return event
