"""The app factory. The service is built elsewhere (``bootstrap``) and handed in."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import RequestResponseEndpoint

from volclone import __version__
from volclone.api import (
    attachments,
    clones,
    default_types,
    deps,
    extensions,
    faults,
    group_snapshots,
    group_types,
    groups,
    hosts,
    limits,
    log_levels,
    messages,
    openapi,
    pools,
    project_paths,
    qos,
    quota_classes,
    quotas,
    resource_filters,
    service_actions,
    services,
    snapshots,
    transfers,
    type_encryption,
    types,
    versions,
    volume_actions,
    volumes,
    zones,
)
from volclone.api.event_stream import StreamOptions, StreamSlots
from volclone.config import DEFAULT_MAX_REQUEST_BYTES
from volclone.errors import VolcloneError
from volclone.service import Service
from volclone.service.messages import REQUEST_ID, new_request_id

#: The header every answer names its request in (Cinder's, from oslo.middleware's request_id).
REQUEST_ID_HEADER = "x-openstack-request-id"


def create_app(svc: Service, manage_lifecycle: bool = True, max_request_bytes: int | None = None,
               event_streams: StreamOptions | None = None, max_version: tuple[int, int] | None = None) -> FastAPI:
    """An app serving ``svc``; with ``manage_lifecycle`` it starts and stops the service too.
    Request bodies longer than ``max_request_bytes`` (the CLI passes ``VOLCLONE_MAX_REQUEST_BYTES``) are 413s.
    ``event_streams`` bounds and paces get_progress's event streams (the ``VOLCLONE_EVENT_STREAM_*`` settings).
    ``max_version`` (TESTS ONLY: ``VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION``) accepts microversions past
    the maximum, for the real-server tests of features gated above it (os-revert at 3.40)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            svc.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                svc.stop()

    app = FastAPI(title="volclone", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.service = svc
    app.state.stream_options = event_streams or StreamOptions()
    app.state.stream_slots = StreamSlots(app.state.stream_options.max_streams)
    app.state.max_version = max_version
    faults.install(app)
    openapi.install(app)

    @app.exception_handler(405)
    async def method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
        allowed = openapi.allowed_methods(app, request.scope["path"])
        response = faults.fault(405, f"{request.method} is not allowed here; allowed: {', '.join(allowed)}")
        response.headers["Allow"] = ", ".join(allowed)
        return response

    app.add_middleware(limits.BodyLimit, max_bytes=max_request_bytes or DEFAULT_MAX_REQUEST_BYTES)
    app.add_middleware(versions.MicroversionMiddleware)

    @app.middleware("http")
    async def require_json(request: Request, call_next: RequestResponseEndpoint) -> Response:
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if request.method in ("POST", "PUT") and not ctype.endswith("json"):
            return faults.fault(400, f"Content-Type {ctype!r} is not supported; send application/json")
        return await call_next(request)

    # Added last, so it runs first: like keystonemiddleware in front of Cinder, a caller
    # without a valid token for the project learns nothing else (not even that its
    # body is malformed or its microversion unsupported).
    @app.middleware("http")
    async def authenticate(request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = deps.path_of(request.scope)
        if not deps.is_public(path):  # every other path, known or not, needs a token
            try:
                who = None
                if project_paths.lacks_project(app, request.scope):
                    # 3.67: /v3/volumes is /v3/{the token's project}/volumes.
                    who = await run_in_threadpool(deps.authenticate, request)
                    project_paths.insert_project(request.scope, who.project_id)
                    path = deps.path_of(request.scope)
                request.state.principal = await run_in_threadpool(deps.check_caller, request,
                                                                  deps.project_of(path), who)
            except VolcloneError as exc:
                return faults.fault(exc.status, exc.message, exc.fault)
        return await call_next(request)

    # Added after authenticate, so it runs before it: every answer, a 401 too, names its request
    # (as Cinder's request_id middleware, first in its pipeline, does); user messages written
    # while serving it name it as their request_id.
    @app.middleware("http")
    async def request_id(request: Request, call_next: RequestResponseEndpoint) -> Response:
        rid = new_request_id()
        token = REQUEST_ID.set(rid)
        try:
            response = await call_next(request)
        finally:
            REQUEST_ID.reset(token)
        response.headers[REQUEST_ID_HEADER] = rid
        return response

    routers = (versions.router, types.router, volumes.router, clones.router, attachments.router,
               volume_actions.router, quotas.router, quota_classes.router, log_levels.router, service_actions.router,
               services.router, hosts.router, snapshots.router,
               zones.router, extensions.router, resource_filters.router, default_types.router,
               *transfers.routers, messages.router, qos.router, pools.router,
               group_types.router, groups.router, group_snapshots.router, type_encryption.router)
    for router in routers:
        app.include_router(router)
    # The routes as the auth middleware matches them to find their policy rule (before routing).
    app.state.api_routes = [route for router in routers for route in router.routes]
    return app
