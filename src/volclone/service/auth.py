"""Who is calling. Local tokens now; Keystone later, behind the same :class:`Authenticator`."""

from __future__ import annotations

import secrets
from typing import Protocol

from volclone.db.repos import Tokens
from volclone.domain import Principal
from volclone.errors import Forbidden, Unauthorized


class Authenticator(Protocol):
    def authenticate(self, token: str | None) -> Principal: ...


class AuthService:
    """Local tokens: random, shown once, stored as hashes."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def create_token(self, project_id: str, is_admin: bool = False) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens.add(token, Principal(project_id, is_admin))
        return token

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("an X-Auth-Token header is required")
        principal = self.tokens.find(token)
        if principal is None:
            raise Unauthorized("the token is not valid")
        return principal

    @staticmethod
    def authorize(principal: Principal, project_id: str) -> None:
        if not principal.may_act_on(project_id):
            raise Forbidden(f"the token is not scoped to project {project_id}")

    @staticmethod
    def require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("this action needs an admin token")
