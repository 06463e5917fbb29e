"""Calling an app's get_progress event stream as an ASGI server does, in process: a stream can be
held open, read as it comes, and its client can leave (:meth:`Call.leave`)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

PATH = "/v3/p1/clone-volumes/get_progress"
#: Bounds a hang only: a stream of the memory driver's flows ends in milliseconds once let go.
HANG = 30.0


@dataclass
class Call:
    """One request to the app, as an ASGI server makes it; the client can leave (:meth:`leave`)."""

    app: Any
    headers: dict[str, str]
    query: str
    path: str = PATH
    messages: list[dict[str, Any]] = field(default_factory=list)
    left: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False

    async def run(self) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": self.path, "raw_path": self.path.encode(),
                 "query_string": self.query.encode(), "root_path": "", "server": ("127.0.0.1", 8776),
                 "client": ("127.0.0.1", 50000),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]}
        await self.app(scope, self.receive, self.send)

    async def receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.arrived.set()

    def leave(self) -> None:
        self.left.set()

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def response_headers(self) -> dict[str, str]:
        return {k.decode().lower(): v.decode() for k, v in self.messages[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])

    async def until(self, wanted: bytes) -> None:
        """Wait until the body holds ``wanted``."""
        while wanted not in self.body:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), HANG)


def events_of(body: bytes) -> list[dict[str, Any]]:
    """The events of an event-stream body: each one's fields, ``data`` decoded (comments dropped)."""
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = json.loads(value) if name == "data" else value
        if fields:
            out.append(fields)
    return out
