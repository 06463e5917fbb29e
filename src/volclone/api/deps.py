"""Request-scoped dependencies: the service, who is calling, and the policy rule each route needs.

Every route names its rule (``@rule("volume:create")`` under its ``@router.post``); the app's auth
middleware checks it, with :func:`check_caller`, before the body is read: 401, then 403, then 400.
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from volclone.api import views
from volclone.domain import Principal
from volclone.errors import BadRequest, Forbidden, Unauthorized
from volclone.service import Service
from volclone.service.policy import UNROUTED_RULE

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


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
#: endpoint function -> the policy rule its route is checked against
_RULES: dict[Callable[..., Any], str] = {}


def rule(name: str) -> Callable[[Endpoint], Endpoint]:
    """Name the policy rule a route needs; put it under the route's decorator::

        @router.post("", status_code=202)
        @rule("volume:create")
        def create_volume(...): ...
    """
    def mark(endpoint: Endpoint) -> Endpoint:
        _RULES[endpoint] = name
        return endpoint
    return mark


def rule_of(route: BaseRoute) -> str | None:
    """The rule ``route`` was given with :func:`rule` (None: a public route, or none given)."""
    return _RULES.get(getattr(route, "endpoint", None))  # type: ignore[arg-type]


def api_routes(app: Any) -> list[BaseRoute]:
    """Every route of the API, flat (``create_app`` lists them; FastAPI nests included routers)."""
    return app.state.api_routes  # type: ignore[no-any-return]


def route_for(routes: Iterable[BaseRoute], scope: Scope) -> BaseRoute | None:
    """The route that will serve ``scope`` (path and method), or None (a 404 or a 405)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def authenticate(request: Request) -> Principal:
    """The caller its token names (401 without a valid one), ``is_admin`` from the policy's
    ``context_is_admin`` rule (as Cinder's context has it): it decides all_tenants, private types
    and the admin-only fields of a view."""
    svc = service(request)
    who = svc.auth.authenticate(request.headers.get(TOKEN_HEADER))
    return dataclasses.replace(who, is_admin=svc.policy.is_admin(who))


def check_caller(request: Request, project_id: str | None, who: Principal | None = None) -> Principal:
    """Authenticate the token (401), check the policy rule of the route for ``project_id`` (403),
    then that the project id is well-formed (400).

    ``who``: the caller if :func:`authenticate` found it already.
    """
    svc = service(request)
    who = who or authenticate(request)
    if project_id is not None:
        route = route_for(api_routes(request.app), request.scope)
        # A path no route serves still needs the project readable: a stranger learns nothing of it.
        # A route that names no rule is refused to all (tests/policy walks the routes for that).
        name = UNROUTED_RULE if route is None else rule_of(route)
        if name is None:
            raise Forbidden(f"no policy rule guards {request.method} {path_of(request.scope)}")
        svc.policy.authorize(name, who, project_id)
        check_project_id(project_id)
    return who


def enforce(request: Request, name: str, project_id: str) -> None:
    """Check one more rule that only the body can tell (which volume action), after the route's."""
    service(request).policy.authorize(name, principal(request), project_id)


def principal(request: Request) -> Principal:
    """The caller, checked by the app's auth middleware (:func:`check_caller`) before the body was read."""
    who: Principal | None = getattr(request.state, "principal", None)
    if who is None:  # the middleware authenticates every non-public path; never serve without it
        raise Unauthorized("an X-Auth-Token header is required")
    return who


def allows(request: Request, name: str) -> bool:
    """Whether the caller passes rule ``name`` on its own project (Cinder's ``authorize(..., fatal=False)``,
    for the rules that add fields to a body)."""
    return service(request).policy.allows(name, principal(request))


def api_version(request: Request) -> tuple[int, int]:
    """The request's microversion (the middleware negotiated it; 3.0 if none was asked for)."""
    version: tuple[int, int] = getattr(request.state, "api_version", (3, 0))
    return version


def volume_shape(request: Request, extended: bool = True) -> views.VolumeShape:
    """What the caller's volume records hold at the request's microversion. ``extended``: a show or
    a detailed list, where Cinder adds the attribute fields its policy allows (not a create or an update)."""
    return views.VolumeShape.for_caller(api_version(request), principal(request),
                                        lambda name: allows(request, name), extended,
                                        service(request).services.volume_hosts)
