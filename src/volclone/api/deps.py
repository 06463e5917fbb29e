"""Request-scoped dependencies: the service, and who is calling."""

from __future__ import annotations

from fastapi import Request

from volclone.domain import Principal
from volclone.service import Service

TOKEN_HEADER = "X-Auth-Token"


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def principal(request: Request, project_id: str) -> Principal:
    """Authenticate the token (401) and check it may act on the URL's project (403)."""
    svc = service(request)
    who = svc.auth.authenticate(request.headers.get(TOKEN_HEADER))
    svc.auth.authorize(who, project_id)
    return who
