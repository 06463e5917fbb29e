"""Request-scoped dependencies: the service, and who is calling."""

from __future__ import annotations

import unicodedata

from fastapi import Request
from starlette.types import Scope

from volclone.domain import Principal
from volclone.errors import BadRequest, Unauthorized
from volclone.service import Service

TOKEN_HEADER = "X-Auth-Token"
#: Paths anyone may read: the version documents (clients discover the API with them) and the API description.
PUBLIC_PATHS = frozenset({"/", "/v3", "/v3/", "/openapi.json"})
_V3 = "/v3/"


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def path_of(scope: Scope) -> str:
    """The request's decoded path as the router sees it.

    Not ``request.url.path``: building a URL drops tabs and newlines (``urllib.parse`` does,
    as WHATWG says), so ``/v3/%09/volumes`` would look like ``/v3//volumes`` there.
    """
    return str(scope.get("path", ""))


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS


def project_of(path: str) -> str | None:
    """The project a URL path acts on (its segment after ``/v3/``, maybe empty), or None for a
    path outside ``/v3/{project_id}/...``."""
    if not path.startswith(_V3) or path == _V3:
        return None
    return path[len(_V3):].split("/", 1)[0]


def check_project_id(project_id: str) -> None:
    """A project id is a non-blank string of printable characters (400 otherwise)."""
    if not project_id.strip() or any(unicodedata.category(c).startswith("C") for c in project_id):
        raise BadRequest(f"{project_id!r} is not a valid project id")


def check_caller(request: Request, project_id: str | None) -> Principal:
    """Authenticate the token (401), check it may act on ``project_id`` (403), then that the
    project id is well-formed (400)."""
    svc = service(request)
    who = svc.auth.authenticate(request.headers.get(TOKEN_HEADER))
    if project_id is not None:
        svc.auth.authorize(who, project_id)
        check_project_id(project_id)
    return who


def principal(request: Request) -> Principal:
    """The caller, checked by the app's auth middleware (:func:`check_caller`) before the body was read."""
    who: Principal | None = getattr(request.state, "principal", None)
    if who is None:  # the middleware authenticates every non-public path; never serve without it
        raise Unauthorized("an X-Auth-Token header is required")
    return who
