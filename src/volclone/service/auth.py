"""Who is calling: one seam, :class:`Authenticator`, with two implementations.

:class:`LocalTokens` (the default) looks tokens up among volclone's own (``volclone token create``);
``volclone.auth.keystone.KeystoneAuthenticator`` (``VOLCLONE_AUTH=keystone``) asks Keystone.
``volclone.bootstrap`` picks one and hands it to :class:`AuthService`::

    auth = AuthService(tokens)                               # local tokens
    auth = AuthService(tokens, KeystoneAuthenticator(...))   # Keystone tokens

What a caller may do is the policy's to say (``volclone.service.policy``), from the roles the
authenticator gives it. Local tokens carry Keystone's default role sets::

    admin token     {admin, member, reader}   acts on every project
    project token   {member, reader}          reads and writes its own project
    reader token    {reader}                  reads its own project

Each token also stands for a user (``Principal.user_id``, recorded on what it creates): a
Keystone token for its user, a local token for the one it was made for (a new one unless named).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Protocol

from volclone.db.repos import Tokens
from volclone.domain import Principal
from volclone.errors import Unauthorized

ADMIN_ROLES = frozenset({"admin", "member", "reader"})
MEMBER_ROLES = frozenset({"member", "reader"})
READER_ROLES = frozenset({"reader"})


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

    def create_token(self, project_id: str, roles: frozenset[str] = MEMBER_ROLES, user_id: str | None = None) -> str:
        """A new token of ``project_id`` with ``roles``, standing for ``user_id`` (by default a
        new user of its own, 32 hex digits as Keystone's user ids are)."""
        token = secrets.token_urlsafe(32)
        while token.startswith("-"):  # one in 64 would: the CLIs would read `--os-token -x...` as an option
            token = secrets.token_urlsafe(32)
        user = user_id or uuid.uuid4().hex
        self.tokens.add(token, Principal(project_id, "admin" in roles, frozenset(roles), user))
        return token

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        return self.authenticator.authenticate(token)
