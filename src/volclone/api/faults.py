"""Errors as OpenStack fault bodies: ``{"badRequest": {"code": 400, "message": "..."}}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from volclone.errors import VolcloneError

log = logging.getLogger(__name__)

#: Cinder's fault names by status (cinder/api/openstack/wsgi.py).
FAULT_NAMES = {
    400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
    405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest", 412: "preconditionFailed", 413: "overLimit",
    415: "badMediaType", 501: "notImplemented", 503: "serviceUnavailable", 507: "insufficientStorage",
}


def fault(status: int, message: str, name: str | None = None) -> JSONResponse:
    name = name or FAULT_NAMES.get(status, "computeFault")
    return JSONResponse({name: {"code": status, "message": message}}, status_code=status)


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        msg = str(err.get("msg")).removeprefix("Value error, ")  # our validators' own messages
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(VolcloneError)
    async def _volclone(_: Request, exc: VolcloneError) -> JSONResponse:
        if exc.status >= 500:
            log.error("internal error: %s", exc.message)
        return fault(exc.status, exc.message, exc.fault)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return fault(400, _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = "the resource could not be found"
        return fault(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return fault(500, "the server has either erred or is incapable of performing the requested operation")
