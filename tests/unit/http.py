"""An HTTP client over the fast in-memory service, for the unit tests that speak the REST API
(the app in process through Starlette's ``TestClient``: no server, no sockets).

    def test_a_missing_volume_is_a_404(http: Http) -> None:
        made = http.ok("POST", "/volumes", {"volume": {"size": 1}}, status=202)["volume"]
        assert http.call("GET", "/volumes/nope").status_code == 404

The ``http`` fixture (tests/unit/conftest.py) serves ``fast``. A test file that needs another
default microversion or token, or helpers for its own resource, subclasses :class:`Http` and
makes its fixture with :meth:`Http.serving` (``GroupHttp.serving(fast, version="3.14")``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import httpx
from starlette.testclient import TestClient

from volclone.api import versions
from volclone.api.app import create_app
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES

if TYPE_CHECKING:  # conftest imports this module for its fixture
    from .conftest import Fast


@dataclass
class Http:
    """Calls under ``/v3/{project}`` with one of the tokens: p1's ``member`` and ``reader``, an
    ``admin`` (project ``admin``), and ``other``, a member of p2."""

    fast: Fast
    client: TestClient
    member: str
    reader: str
    admin: str
    other: str
    #: The token a call sends when it names none (None: ``member``).
    token: str | None = None
    #: The microversion a call asks for when it names none (None: none, so the base 3.0).
    version: str | None = None

    @classmethod
    @contextlib.contextmanager
    def serving(cls, fast: Fast, **defaults: Any) -> Iterator[Self]:
        """A client of ``fast``'s app, with a token for each role; ``defaults``: ``token``, ``version``."""
        auth = fast.svc.auth
        with TestClient(create_app(fast.svc, manage_lifecycle=False)) as client:
            yield cls(fast, client, auth.create_token("p1", MEMBER_ROLES), auth.create_token("p1", READER_ROLES),
                      auth.create_token("admin", ADMIN_ROLES), auth.create_token("p2", MEMBER_ROLES), **defaults)

    def headers(self, token: str | None = None, version: str | None = None) -> dict[str, str]:
        """The token and microversion headers of a call (for one made with ``client`` itself)."""
        headers = {"X-Auth-Token": token or self.token or self.member}
        version = version or self.version
        if version:
            headers[versions.HEADER] = f"volume {version}"
        return headers

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, version: str | None = None,
             project: str = "p1", params: Mapping[str, str] | None = None) -> httpx.Response:
        """``method /v3/{project}{path}`` with ``body`` as JSON; the response, whatever its status."""
        return self.client.request(method, f"/v3/{project}{path}", json=body, headers=self.headers(token, version),
                                   params=params)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        """:meth:`call` that must answer ``status``: its JSON body (None if empty)."""
        r = self.call(method, path, body, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None
