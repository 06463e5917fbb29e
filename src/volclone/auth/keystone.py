"""Keystone tokens: every ``X-Auth-Token`` is validated with Keystone (identity v3), then cached.

keystonemiddleware's ``auth_token`` is WSGI-only, so volclone asks Keystone itself through
keystoneauth1, the way the middleware does: ``GET /v3/auth/tokens`` with the caller's token in
``X-Subject-Token``, authenticated as volclone's service user::

    auth = KeystoneAuthenticator("http://keystone:5000/v3", user="volclone", password="...",
                                 project="service")
    who = auth.authenticate(token)   # Principal(project_id, is_admin, roles, user_id)

A validated token is trusted for ``cache_s`` seconds or until it expires, whichever comes first,
so a revoked token stops working within ``cache_s``. Failures are never cached, and when Keystone
cannot be asked the request is refused (503), never let through.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from volclone.domain import Principal
from volclone.errors import Forbidden, IdentityUnavailable, Unauthorized

log = logging.getLogger(__name__)

#: Most tokens kept in the cache; the least recently used go first.
DEFAULT_CACHE_SIZE = 10_000
#: Seconds one call to Keystone may take before the request is refused with a 503.
DEFAULT_TIMEOUT_S = 10.0

_UNAVAILABLE = "the identity service cannot validate tokens right now; try again later"


def identity_v3(url: str) -> str:
    """``http://h:5000``, ``http://h:5000/`` and ``http://h:5000/v3`` all mean ``http://h:5000/v3``."""
    url = url.rstrip("/")
    return url if url.endswith("/v3") else f"{url}/v3"


def principal_of(token: dict[str, Any]) -> Principal:
    """The caller a validated token (Keystone's ``token`` object) stands for.

    Only a project-scoped token may act on a project: unscoped, domain- and system-scoped tokens
    are refused (403), as they name no project for volclone's ``/v3/{project_id}`` paths.
    """
    project = token.get("project")
    if not isinstance(project, dict) or not project.get("id"):
        scope = "domain-scoped" if "domain" in token else "system-scoped" if "system" in token else "unscoped"
        raise Forbidden(f"the token is {scope}; volclone needs a token scoped to a project")
    roles = frozenset(str(r["name"]) for r in token.get("roles", ()) if isinstance(r, dict) and r.get("name"))
    user = token.get("user")
    user_id = str(user["id"]) if isinstance(user, dict) and user.get("id") else None
    return Principal(str(project["id"]), is_admin="admin" in roles, roles=roles, user_id=user_id)


def expiry_of(token: dict[str, Any]) -> float:
    """The token's ``expires_at`` as a POSIX timestamp (Keystone writes ISO 8601 in UTC)."""
    return datetime.fromisoformat(str(token["expires_at"])).timestamp()


class KeystoneAuthenticator:
    """An :class:`~volclone.service.auth.Authenticator` backed by Keystone.

    ``clock`` (POSIX seconds, like Keystone's ``expires_at``) is a seam for tests of the cache bound.
    """

    def __init__(self, url: str, user: str, password: str, project: str, domain: str = "Default",
                 cache_s: float = 60.0, cache_size: int = DEFAULT_CACHE_SIZE, timeout_s: float = DEFAULT_TIMEOUT_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = identity_v3(url)
        self.cache_s = cache_s
        self.cache_size = cache_size
        self.clock = clock
        # The service user's own token is kept (and renewed before it expires) by the plugin.
        plugin = v3.Password(auth_url=self.url, username=user, password=password, user_domain_name=domain,
                             project_name=project, project_domain_name=domain)
        self.session = ks_session.Session(auth=plugin, timeout=timeout_s)
        # sha256(token) -> (principal, trusted until); the tokens themselves are not kept.
        self._cache: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        key = hashlib.sha256(token.encode()).digest()
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now < hit[1]:
                self._cache.move_to_end(key)
                return hit[0]
            self._cache.pop(key, None)
        body = self._validate(token)
        principal = principal_of(body)
        until = min(now + self.cache_s, expiry_of(body))
        if self.cache_s > 0 and now < until:
            with self._lock:
                self._cache[key] = (principal, until)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return principal

    def _validate(self, token: str) -> dict[str, Any]:
        """Keystone's ``token`` object for a valid token; Unauthorized for one Keystone refuses."""
        try:
            resp = self.session.get(f"{self.url}/auth/tokens", raise_exc=False,
                                    headers={"X-Subject-Token": token, "Accept": "application/json"})
        except ks_exceptions.ClientException as exc:
            # Unreachable, timed out, or volclone's own credentials refused (the plugin could not get
            # the service token): no one can be authenticated now.
            log.error("cannot validate a token with Keystone at %s: %s", self.url, exc)
            raise IdentityUnavailable(_UNAVAILABLE) from exc
        if resp.status_code in (401, 404):
            # 404: the token is unknown, expired or revoked. 401 after the plugin's one re-authentication:
            # Keystone refuses the subject token itself (malformed).
            raise Unauthorized("the token is not valid")
        if resp.status_code != 200:
            log.error("Keystone at %s answered %s to a token validation: %.200s", self.url, resp.status_code,
                      resp.text)
            raise IdentityUnavailable(_UNAVAILABLE)
        try:
            body = resp.json()["token"]
            expiry_of(body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("Keystone at %s answered a token validation with no token: %.200s", self.url, resp.text)
            raise IdentityUnavailable(_UNAVAILABLE) from exc
        if not isinstance(body, dict):
            raise IdentityUnavailable(_UNAVAILABLE)
        return body
