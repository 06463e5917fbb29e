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
    deps,
    extensions,
    faults,
    group_types,
    groups,
    limits,
    openapi,
    quotas,
    services,
    snapshots,
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
                request.state.principal = await run_in_threadpool(deps.check_caller, request,
                                                                  deps.project_of(path))
            except VolcloneError as exc:
                return faults.fault(exc.status, exc.message, exc.fault)
        return await call_next(request)

    routers = (versions.router, types.router, volumes.router, clones.router, attachments.router,
               volume_actions.router, quotas.router, services.router, snapshots.router, zones.router,
               extensions.router, group_types.router, groups.router)
    for router in routers:
        app.include_router(router)
    # The routes as the auth middleware matches them to find their policy rule (before routing).
    app.state.api_routes = [route for router in routers for route in router.routes]
    return app
