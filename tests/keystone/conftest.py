"""A real Keystone for the auth tests (``cloud.py`` brings it up), once per session on a free
loopback port, with:

- projects ``proj-a`` and ``proj-b``; users ``alice`` (admin on A), ``bob`` (member on A),
  ``carol`` (reader on A), ``dave`` (member on B), ``dora`` (member on the Default domain only);
- the service user ``volclone`` (``service`` role in project ``service``) that volclone validates
  tokens as;
- volclone in the catalog as ``block-storage`` (cinder) and ``volumev3`` (cinderv3), with
  ``http://127.0.0.1:PORT/v3/%(project_id)s`` on the port the keystone-mode server will listen on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import Server, free_port

from .cloud import (
    ADMIN_PASSWORD,
    Keystone,
    KeystoneError,
    add_project,
    add_user,
    bring_up,
    password,
    register_volclone,
    roles,
    write_config,
)

__all__ = ["ADMIN_PASSWORD", "Keystone", "free_port", "password"]

SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT = "volclone", "volclone-secret", "service"
#: volclone's validated tokens are trusted this long in the session's keystone-mode server, so
#: the revocation test sees a revoked token refused soon.
CACHE_S = 2
#: Lifetime of the tokens ``short_keystone`` issues: long enough to use one at once, short to wait out.
SHORT_EXPIRATION_S = 5


@dataclass
class Cloud:
    """The session's Keystone, what was made in it, and the keystone-mode volclone server."""

    keystone: Keystone
    base: Path
    admin: httpx.Client
    projects: dict[str, str]  # name -> id
    volclone_port: int
    server: Server | None = None

    def token(self, user: str, project: str | None = None, domain: str | None = None) -> str:
        return self.keystone.issue(user, project, domain)

    def volclone_env(self, keystone_url: str | None = None, cache_s: float = CACHE_S) -> dict[str, str]:
        return {"VOLCLONE_AUTH": "keystone", "VOLCLONE_KEYSTONE_URL": keystone_url or self.keystone.url,
                "VOLCLONE_KEYSTONE_USER": SERVICE_USER, "VOLCLONE_KEYSTONE_PASSWORD": SERVICE_PASSWORD,
                "VOLCLONE_KEYSTONE_PROJECT": SERVICE_PROJECT, "VOLCLONE_KEYSTONE_CACHE_S": str(cache_s)}


def populate(admin: httpx.Client, volclone_port: int) -> dict[str, str]:
    """Projects, users with their roles, the service user, and volclone in the catalog."""
    role_ids = roles(admin, "admin", "member", "reader", "service")
    projects = {name: add_project(admin, name) for name in ("proj-a", "proj-b", SERVICE_PROJECT)}
    grants = {"alice": ("proj-a", "admin"), "bob": ("proj-a", "member"), "carol": ("proj-a", "reader"),
              "dave": ("proj-b", "member"), SERVICE_USER: (SERVICE_PROJECT, "service"), "dora": (None, "member")}
    for user, (project, role) in grants.items():
        secret = SERVICE_PASSWORD if user == SERVICE_USER else password(user)
        add_user(admin, user, secret, projects[project] if project else None, role_ids[role])
    register_volclone(admin, volclone_port)
    return projects


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("keystone")
    try:
        keystone = bring_up(base)
    except KeystoneError as exc:
        pytest.fail(str(exc))
    try:
        volclone_port = free_port()
        with keystone.admin_client() as admin:
            projects = populate(admin, volclone_port)
            yield Cloud(keystone, base, admin, projects, volclone_port)
    finally:
        keystone.stop()


@pytest.fixture(scope="session")
def server(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``volclone serve`` with ``VOLCLONE_AUTH=keystone``, on the port in Keystone's catalog."""
    srv = Server(tmp_path_factory.mktemp("volclone-keystone"), cloud.volclone_port, env=cloud.volclone_env())
    srv.start()
    cloud.server = srv
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def _short_keystone(cloud: Cloud) -> Iterator[Keystone]:
    config = write_config(cloud.base / "keystone-short.conf", cloud.base, expiration_s=SHORT_EXPIRATION_S)
    keystone = Keystone(config)
    yield keystone
    keystone.stop()


@pytest.fixture
def short_keystone(_short_keystone: Keystone) -> Keystone:
    """A second Keystone over the same database and keys whose tokens expire after
    ``SHORT_EXPIRATION_S``: a real expired token without waiting an hour (the session Keystone
    validates its tokens too: fernet tokens carry their expiry). A test may stop it (Keystone
    down); the next one that asks gets it started again."""
    if _short_keystone.proc is None:
        _short_keystone.start()
    return _short_keystone
