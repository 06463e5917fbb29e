"""A real Keystone for the auth tests: keystone 30.0.0 from PyPI under gunicorn, with SQLite.

It runs from ``.venv-keystone`` (made by ``scripts/setup test``; Keystone's pins differ from
volclone's), once per session on a free loopback port, and is set up the way an operator would:

- ``keystone-manage`` db_sync, the fernet and credential key repositories, ``keystone-manage
  bootstrap`` (admin password);
- projects ``proj-a`` and ``proj-b``; users ``alice`` (admin on A), ``bob`` (member on A),
  ``carol`` (reader on A), ``dave`` (member on B), ``dora`` (member on the Default domain only);
- the service user ``volclone`` (``service`` role in project ``service``) that volclone validates
  tokens as;
- volclone in the catalog as ``block-storage`` (cinder) and ``volumev3`` (cinderv3), with
  ``http://127.0.0.1:PORT/v3/%(project_id)s`` on the port the keystone-mode server will listen on.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Server, free_port

REPO = Path(__file__).resolve().parents[2]
KEYSTONE_VENV = REPO / ".venv-keystone"
HERE = Path(__file__).resolve().parent
ADMIN_PASSWORD = "admin-secret"
SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT = "volclone", "volclone-secret", "service"
#: volclone's validated tokens are trusted this long in the session's keystone-mode server, so
#: the revocation test sees a revoked token refused soon.
CACHE_S = 2
#: Lifetime of the tokens ``short_keystone`` issues: long enough to use one at once, short to wait out.
SHORT_EXPIRATION_S = 5


def password(user: str) -> str:
    return f"{user}-secret"


def keystone_bin(name: str) -> str:
    path = KEYSTONE_VENV / "bin" / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `bash scripts/setup test` (it makes .venv-keystone)")
    return str(path)


def write_config(path: Path, base: Path, expiration_s: int) -> Path:
    """A keystone.conf over the SQLite database and key repositories in ``base``."""
    path.write_text(f"""\
[DEFAULT]
log_file = {path.with_suffix('.log')}
[database]
connection = sqlite:///{base / 'keystone.db'}
[fernet_tokens]
key_repository = {base / 'fernet-keys'}
[fernet_receipts]
key_repository = {base / 'fernet-receipts'}
[credential]
key_repository = {base / 'credential-keys'}
[token]
expiration = {expiration_s}
[identity]
# bcrypt's least work factor: users are made and tokens issued quickly (a test Keystone only).
password_hash_rounds = 4
""")
    return path


@dataclass
class Keystone:
    """One gunicorn serving Keystone with ``config``."""

    config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The identity v3 URL (``--os-auth-url``, ``VOLCLONE_KEYSTONE_URL``)."""
        return f"http://127.0.0.1:{self.port}/v3"

    def start(self) -> None:
        log = open(self.config.with_suffix(".gunicorn.log"), "ab")
        self.proc = subprocess.Popen(
            [keystone_bin("gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8",
             "--worker-class", "gthread", "--timeout", "120", "--pythonpath", str(HERE), "keystone_wsgi:application"],
            env={**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(self.config)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"keystone exited:\n{self.log()}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"keystone did not come up:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)  # gunicorn's quick shutdown, arbiter and worker
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
        self.proc = None

    def log(self) -> str:
        return self.config.with_suffix(".gunicorn.log").read_text(errors="replace")

    # -- the identity API --
    def issue(self, user: str, project: str | None = None, domain: str | None = None,
              secret: str | None = None) -> str:
        """A token for ``user`` (Default domain): scoped to ``project`` (a name), to ``domain``
        (an id), or unscoped."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": secret or password(user)}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        elif domain is not None:
            auth["scope"] = {"domain": {"id": domain}}
        r = httpx.post(f"{self.url}/auth/tokens", json={"auth": auth}, timeout=30)
        assert r.status_code == 201, f"token for {user}: {r.status_code} {r.text}"
        return r.headers["X-Subject-Token"]


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


def keystone_manage(config: Path, *args: str) -> None:
    done = subprocess.run([keystone_bin("keystone-manage"), "--config-file", str(config), *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"keystone-manage {args[0]}: {done.returncode}\n{done.stdout}\n{done.stderr}"


def make_key_repository(path: Path) -> None:
    """What ``keystone-manage fernet_setup`` (and ``credential_setup``) write: a staged key ``0``
    and a primary key ``1``, each 32 random bytes in URL-safe base64 (one process start saved each)."""
    path.mkdir(mode=0o700)
    for index in ("0", "1"):
        (path / index).write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
        (path / index).chmod(0o600)


def _ok(r: httpx.Response) -> Any:
    assert r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def populate(admin: httpx.Client, volclone_port: int) -> dict[str, str]:
    """Projects, users with their roles, the service user, and volclone in the catalog."""
    roles = {r["name"]: r["id"] for r in _ok(admin.get("/roles"))["roles"]}
    for name in ("admin", "member", "reader", "service"):
        if name not in roles:
            roles[name] = _ok(admin.post("/roles", json={"role": {"name": name}}))["role"]["id"]
    projects = {}
    for name in ("proj-a", "proj-b", SERVICE_PROJECT):
        projects[name] = _ok(admin.post("/projects", json={"project": {"name": name, "domain_id": "default"}})
                             )["project"]["id"]
    grants = {"alice": ("proj-a", "admin"), "bob": ("proj-a", "member"), "carol": ("proj-a", "reader"),
              "dave": ("proj-b", "member"), SERVICE_USER: (SERVICE_PROJECT, "service"), "dora": (None, "member")}
    for user, (project, role) in grants.items():
        secret = SERVICE_PASSWORD if user == SERVICE_USER else password(user)
        uid = _ok(admin.post("/users", json={"user": {"name": user, "password": secret, "domain_id": "default"}})
                  )["user"]["id"]
        target = f"/projects/{projects[project]}" if project else "/domains/default"
        _ok(admin.put(f"{target}/users/{uid}/roles/{roles[role]}"))
    url = f"http://127.0.0.1:{volclone_port}/v3/%(project_id)s"
    for name, kind in (("cinder", "block-storage"), ("cinderv3", "volumev3")):
        sid = _ok(admin.post("/services", json={"service": {"name": name, "type": kind}}))["service"]["id"]
        for interface in ("public", "internal", "admin"):
            _ok(admin.post("/endpoints", json={"endpoint": {"service_id": sid, "interface": interface, "url": url,
                                                              "region_id": "RegionOne"}}))
    return projects


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("keystone")
    config = write_config(base / "keystone.conf", base, expiration_s=3600)
    keystone = Keystone(config)
    keystone_manage(config, "db_sync")
    for repo in ("fernet-keys", "fernet-receipts", "credential-keys"):
        make_key_repository(base / repo)
    keystone_manage(config, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                    "--bootstrap-admin-url", keystone.url, "--bootstrap-public-url", keystone.url,
                    "--bootstrap-internal-url", keystone.url, "--bootstrap-region-id", "RegionOne")
    keystone.start()
    try:
        admin_token = keystone.issue("admin", "admin", secret=ADMIN_PASSWORD)
        volclone_port = free_port()
        with httpx.Client(base_url=keystone.url, headers={"X-Auth-Token": admin_token}, timeout=30) as admin:
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
