"""The request-body cap: a body longer than ``max_bytes`` is a 413 ``overLimit`` fault.

A pure ASGI middleware, so the cap holds before anything parses the body: a declared
``Content-Length`` over the cap is refused without reading a byte, and a body sent without one
(chunked) is counted as it streams in and refused as soon as it passes the cap. At most
``max_bytes`` (plus one chunk) is ever held in memory; the body read is handed on to the app.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from volclone.api.faults import fault


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes, the most this server accepts"


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            # At most 20 digits: int() of a longer string is slow and can refuse (its digit limit).
            if not (text.isascii() and text.isdigit() and len(text) <= 20):
                await fault(400, "the Content-Length header is not a number")(scope, receive, send)
                return
            if int(text) > self.max_bytes:
                await fault(413, _too_large(self.max_bytes))(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await fault(413, _too_large(self.max_bytes))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
