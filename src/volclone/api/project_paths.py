"""URLs without the project (Cinder's 3.67): ``/v3/volumes`` is ``/v3/{project}/volumes``, the
project being the token's.

Cinder's router connects every resource both with and without ``{project_id}``, at every
microversion (3.67 only tells clients they may leave it out); so does volclone. A path is read
as one without its project when no route serves it as it is and its first segment after
``/v3/`` names a collection (``volumes``, ``types``, ``limits``, ...): a project that happens to
be called ``volumes`` keeps its own URLs (``/v3/volumes/volumes``).
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

from volclone.api import deps

_V3 = "/v3/"
_PREFIX = "/v3/{project_id}/"


def collections(app: Any) -> frozenset[str]:
    """The first segments after ``/v3/{project_id}/`` of the app's routes (computed once)."""
    found: frozenset[str] | None = getattr(app.state, "project_collections", None)
    if found is None:
        found = frozenset(path[len(_PREFIX):].split("/", 1)[0] for route in deps.api_routes(app)
                          if (path := str(getattr(route, "path", ""))).startswith(_PREFIX))
        app.state.project_collections = found
    return found


def lacks_project(app: Any, scope: Scope) -> bool:
    """Whether ``scope``'s path is one of a collection without its project (see the module)."""
    path = deps.path_of(scope)
    if not path.startswith(_V3):
        return False
    first = path[len(_V3):].split("/", 1)[0]
    if first not in collections(app):
        return False
    return deps.route_for(deps.api_routes(app), scope) is None


def insert_project(scope: Scope, project_id: str) -> None:
    """Put ``project_id`` in ``scope``'s path, after ``/v3/`` (the routers then see it as usual)."""
    rest = deps.path_of(scope)[len(_V3):]
    scope["path"] = f"{_V3}{project_id}/{rest}"
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw.startswith(_V3.encode()):
        scope["raw_path"] = _V3.encode() + project_id.encode() + b"/" + raw[len(_V3):]
