"""Version documents and microversion negotiation (``OpenStack-API-Version: volume 3.x``)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from volclone.api.faults import fault

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 71)
HEADER = "OpenStack-API-Version"
SERVICE = "volume"
#: ASCII digits only (``\d`` takes any script's), and few of them: ``int()`` of thousands of
#: digits is slow and refuses past 4300 (Python's digit limit).
_VERSION_RE = re.compile(r"^([0-9]{1,6})\.([0-9]{1,6})$")

router = APIRouter()


def fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def parse(text: str) -> tuple[int, int]:
    """``"3.40"`` -> ``(3, 40)``; ValueError for anything else."""
    m = _VERSION_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a microversion (MAJOR.MINOR)")
    return int(m.group(1)), int(m.group(2))


def version_doc(base_url: str) -> dict[str, object]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": fmt(MAX_VERSION),
        "min_version": fmt(MIN_VERSION),
        "updated": "2026-11-30T00:00:00Z",
        "links": [{"rel": "describedby", "type": "text/html",
                   "href": "https://docs.openstack.org/"},
                  {"rel": "self", "href": f"{base_url}/v3/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.volume+json;version=3"}],
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/")
def all_versions(request: Request) -> JSONResponse:
    return JSONResponse({"versions": [version_doc(_base(request))]}, status_code=300)


@router.get("/v3")
@router.get("/v3/")
def v3_version(request: Request) -> dict[str, object]:
    return {"versions": [version_doc(_base(request))]}


def requested_version(header: str | None, maximum: tuple[int, int] | None = None) -> tuple[int, int] | str:
    """The microversion a request asks for, or an error message. ``maximum`` (tests only:
    ``VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION``) serves more than :data:`MAX_VERSION`."""
    top = maximum or MAX_VERSION
    if not header:
        return MIN_VERSION
    for part in header.split(","):
        words = part.strip().split()
        if len(words) == 2 and words[0].lower() == SERVICE:
            value = words[1].lower()
            if value == "latest":
                return top
            m = _VERSION_RE.match(value)
            if not m:
                shown = words[1] if len(words[1]) <= 32 else words[1][:32] + "..."
                return f"invalid API version {shown!r}; give MAJOR.MINOR, e.g. {fmt(top)}"
            version = (int(m.group(1)), int(m.group(2)))
            if not MIN_VERSION <= version <= top:
                return (f"version {words[1]} is not supported by the API; "
                        f"supported: {fmt(MIN_VERSION)} to {fmt(top)}")
            return version
    return MIN_VERSION


class MicroversionMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = str(request.scope.get("path", ""))
        if not path.startswith("/v3/") or path == "/v3/":
            return await call_next(request)
        version = requested_version(request.headers.get(HEADER), getattr(request.app.state, "max_version", None))
        if isinstance(version, str):
            return fault(406 if "not supported" in version else 400, version)
        request.state.api_version = version
        response = await call_next(request)
        response.headers[HEADER] = f"{SERVICE} {fmt(version)}"
        response.headers["Vary"] = HEADER
        return response
