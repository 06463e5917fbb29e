"""Who is calling: one seam, :class:`Authenticator`, with two implementations.

:class:`LocalTokens` (the default) looks tokens up among volclone's own (``volclone token create``);
``volclone.auth.keystone.KeystoneAuthenticator`` (``VOLCLONE_AUTH=keystone``) asks Keystone.
``volclone.bootstrap`` picks one and hands it to :class:`AuthService`::

    auth = AuthService(tokens)                               # local tokens
    auth = AuthService(tokens, KeystoneAuthenticator(...))   # Keystone tokens
"""

from __future__ import annotations

import secrets
from typing import Protocol

from volclone.db.repos import Tokens
from volclone.domain import Principal
from volclone.errors import Forbidden, Unauthorized


class Authenticator(Protocol):
    """Who a token belongs to: Unauthorized (401) for a missing or invalid one, Forbidden (403) for
    one that may act on no project, IdentityUnavailable (503) when that cannot be known now."""

    def authenticate(self, token: str | None) -> Principal: ...


class LocalTokens:
    """volclone's own tokens: random, shown once, stored as hashes."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        principal = self.tokens.find(token)
        if principal is None:
            raise Unauthorized("the token is not valid")
        return principal


class AuthService:
    """Authenticates callers with ``authenticator`` (local tokens unless told otherwise) and
    makes local tokens (``volclone token create``; only the local authenticator accepts them)."""

    def __init__(self, tokens: Tokens, authenticator: Authenticator | None = None) -> None:
        self.tokens = tokens
        self.authenticator: Authenticator = authenticator or LocalTokens(tokens)

    def create_token(self, project_id: str, is_admin: bool = False) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens.add(token, Principal(project_id, is_admin))
        return token

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        return self.authenticator.authenticate(token)

    @staticmethod
    def authorize(principal: Principal, project_id: str) -> None:
        if not principal.may_act_on(project_id):
            raise Forbidden(f"the token is not scoped to project {project_id}")

    @staticmethod
    def require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("this action needs an admin token")
