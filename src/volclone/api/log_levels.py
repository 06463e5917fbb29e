"""PUT /v3/{project_id}/os-services/set-log and /get-log (microversion 3.32, admins):

    PUT /os-services/set-log  {"binary": "*", "server": HOST, "prefix": "volclone.", "level": "DEBUG"}  202
    PUT /os-services/get-log  {"binary": "*", "server": HOST, "prefix": "volclone."}
        {"log_levels": [{"binary": "volclone-api", "host": HOST, "levels": {"volclone.api": "INFO", ...}}]}

As Cinder, below 3.32 both are a 400 ``Unknown action``; ``binary`` ``*``, ``""`` or none mean
every binary; ``server`` (optional) must name this host for get-log to list its levels. What is set
is this process's loggers (:mod:`volclone.service.log_levels`), where the embedded server's
workers run too; a worker in a process of its own is not reached (Cinder reaches its services
over RPC), so it is never listed.
"""

from __future__ import annotations

import socket
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from volclone.api.deps import api_version, principal, rule
from volclone.api.schemas import Strict
from volclone.domain import Principal
from volclone.errors import BadRequest
from volclone.service import log_levels

router = APIRouter(prefix="/v3/{project_id}/os-services")
#: Cinder's ``LOG_LEVEL``.
LOG_LEVEL_VERSION = (3, 32)
#: This process's binary (Cinder's ``cinder-api``, which volclone also takes).
API_BINARY = "volclone-api"
_API_BINARIES = frozenset({API_BINARY, "cinder-api"})
_ALL = frozenset({"*", ""})
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"]


class GetLog(Strict):
    binary: str | None = Field(None, max_length=255)
    server: str | None = Field(None, max_length=255)
    prefix: str | None = Field(None, max_length=255)


class SetLog(GetLog):
    level: Level


def _check(request: Request) -> None:
    if api_version(request) < LOG_LEVEL_VERSION:
        raise BadRequest("Invalid input received: Unknown action (set-log and get-log need microversion 3.32)")


def _api_binary(body: GetLog) -> bool:
    """Whether the request's ``binary`` takes in this API process."""
    return body.binary is None or body.binary in _ALL | _API_BINARIES


@router.put("/set-log", status_code=202)
@rule("volume_extension:services:update")
def set_log(project_id: str, body: SetLog, request: Request, who: Principal = Depends(principal)) -> Response:
    _check(request)
    if _api_binary(body):  # as Cinder's: the API's own levels whatever the server
        log_levels.set_levels(body.prefix, body.level)
    return Response(status_code=202)


@router.put("/get-log")
@rule("volume_extension:services:update")
def get_log(project_id: str, body: GetLog, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
    _check(request)
    found = []
    if _api_binary(body) and (not body.server or body.server == socket.gethostname()):
        found.append({"binary": API_BINARY, "host": socket.gethostname(), "levels": log_levels.levels(body.prefix)})
    return {"log_levels": found}
