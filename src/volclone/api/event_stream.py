"""get_progress as Server-Sent Events (``Accept: text/event-stream``): the response, its bound
and its polling loop. What the events are is :mod:`volclone.api.progress_events`.

A stream reads the task's progress as a plain get_progress does, from the flow's persisted
state, so any API process serves any task's stream. It reads once per ``poll_s`` in a worker
thread (a database connection is taken for the read and given back; none is held between
reads) and sleeps in between, so streams never hold up the server's other requests. A comment
line every ``ping_s`` keeps proxies from cutting a quiet stream. At most ``max_streams`` are open
in one process: one more is refused with a 503 ``serviceUnavailable`` fault and ``Retry-After``.
A client that goes away is noticed at once (sse-starlette listens for the disconnect) and its
stream ends, its place freed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from volclone.api.faults import fault
from volclone.api.progress_events import END_ID, Event, ProgressEvents
from volclone.config import Settings
from volclone.domain import CloneProgress
from volclone.errors import VolcloneError

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
#: Seconds a refused stream is told to wait (``Retry-After``) before it asks again.
RETRY_AFTER_S = 5
_INTERNAL = "the server has either erred or is incapable of performing the requested operation"


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """How this process serves event streams (the ``VOLCLONE_EVENT_STREAM_*`` settings)."""

    #: Streams open at once in one process; more are refused (503 with Retry-After).
    max_streams: int = 32
    #: Seconds between two reads of a streamed task's progress.
    poll_s: float = 0.5
    #: Seconds between two keep-alive comments.
    ping_s: float = 15.0
    #: The least seconds between two progress events (state events are never held back).
    progress_interval_s: float = 0.5

    @classmethod
    def from_settings(cls, s: Settings) -> StreamOptions:
        return cls(max_streams=s.max_event_streams, poll_s=s.event_stream_poll_s, ping_s=s.event_stream_ping_s,
                   progress_interval_s=max(s.event_stream_poll_s, cls.progress_interval_s))


def wants_events(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for an event stream: it names ``text/event-stream``
    itself, with a q above 0 (``*/*`` and no header at all get the JSON body, as before).

        >>> wants_events("text/event-stream"), wants_events("*/*"), wants_events("text/event-stream;q=0")
        (True, False, False)
    """
    for item in (accept or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != MEDIA_TYPE:
            continue
        q = next((p.split("=", 1)[1].strip() for p in params if p.lower().startswith("q=")), "1")
        try:
            return float(q) > 0
        except ValueError:
            return False
    return False


class StreamSlots:
    """The places for open streams in this process (the endpoint that takes one runs in a thread)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.open >= self.limit:
                return False
            self.open += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.open -= 1


def _sse(event: Event) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(event.data, separators=(",", ":")), event=event.name, id=event.id)


class ProgressStream(EventSourceResponse):
    """One task's event stream. It holds one of ``slots`` (taken by the caller) until it ends,
    however it ends: the flow finished, the client went away, or the server stops."""

    def __init__(self, first: CloneProgress, read: Callable[[], CloneProgress], slots: StreamSlots,
                 options: StreamOptions) -> None:
        self._first = first
        self._read = read
        self._slots = slots
        self._options = options
        self._held = True
        super().__init__(self._events(), ping=options.ping_s)

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.give_back()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()

    async def _events(self) -> AsyncIterator[ServerSentEvent]:
        events = ProgressEvents(self._options.progress_interval_s)
        p = self._first
        while True:
            for event in events.update(p, time.monotonic()):
                yield _sse(event)
            if events.done:
                return
            await anyio.sleep(self._options.poll_s)
            try:
                p = await anyio.to_thread.run_sync(self._read)
            except VolcloneError as exc:  # e.g. the task is gone: say so, as a plain GET would
                yield _sse(events.error(exc.status, exc.fault, exc.message))
                return
            except Exception:
                log.exception("reading the progress of clone task %s for its event stream failed", p.task_id)
                yield _sse(events.error(500, "computeFault", _INTERNAL))
                return


def open_stream(request: Request, first: CloneProgress, read: Callable[[], CloneProgress]) -> Response:
    """The stream of the task ``first`` was read of (the caller checked the caller may read it,
    and that it exists, so those faults come before any stream): ``read`` reads it again.

    A 204 to a client that reconnects after it had the end event (``Last-Event-ID: end``); a 503
    with ``Retry-After`` while this process has all the streams open it may have."""
    if request.headers.get("last-event-id", "").strip() == END_ID:
        return Response(status_code=204)
    options: StreamOptions = request.app.state.stream_options
    slots: StreamSlots = request.app.state.stream_slots
    if not slots.take():
        refused = fault(503, f"this server has {slots.limit} progress event streams open, the most it serves at "
                             f"once; retry in {RETRY_AFTER_S} s, or poll get_progress without "
                             f"Accept: {MEDIA_TYPE}")
        refused.headers["Retry-After"] = str(RETRY_AFTER_S)
        return refused
    try:
        return ProgressStream(first, read, slots, options)
    except BaseException:
        slots.give_back()
        raise
