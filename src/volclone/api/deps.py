"""Request-scoped dependencies: the service, and who is calling."""

from __future__ import annotations

import re

from fastapi import Request

from volclone.domain import Principal
from volclone.service import Service

TOKEN_HEADER = "X-Auth-Token"
#: Paths that act on a project (``/v3/{project_id}/...``); the version documents are not among them.
_PROJECT_PATH = re.compile(r"^/v3/(?P<project_id>[^/]+)")


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def project_of(path: str) -> str | None:
    """The project a URL path acts on, or None for the unscoped paths (``/``, ``/v3/``)."""
    m = _PROJECT_PATH.match(path)
    return m.group("project_id") if m else None


def check_caller(request: Request, project_id: str) -> Principal:
    """Authenticate the token (401) and check it may act on ``project_id`` (403)."""
    svc = service(request)
    who = svc.auth.authenticate(request.headers.get(TOKEN_HEADER))
    svc.auth.authorize(who, project_id)
    return who


def principal(request: Request) -> Principal:
    """The caller, checked by the app's auth middleware (:func:`check_caller`) before the body was read."""
    who: Principal = request.state.principal
    return who
