"""A real Keystone brought up the way an operator would: keystone 30.0.0 from PyPI under gunicorn,
with SQLite, from ``.venv-keystone`` (made by ``scripts/setup test``; Keystone's pins differ from
volclone's). Used by the auth tests (``tests/keystone/conftest.py``) and the Tempest harness
(``tests/tempest/harness.py``), with ``tests/`` on ``sys.path``.

``bring_up(base)`` runs ``keystone-manage db_sync``, writes the fernet and credential key
repositories, runs ``keystone-manage bootstrap`` (user ``admin`` in project ``admin``,
``ADMIN_PASSWORD``) and starts the server on a free loopback port; ``register_volclone`` puts
volclone in its catalog as ``block-storage`` (cinder) and ``volumev3`` (cinderv3).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import free_port

REPO = Path(__file__).resolve().parents[2]
KEYSTONE_VENV = REPO / ".venv-keystone"
HERE = Path(__file__).resolve().parent
ADMIN_PASSWORD = "admin-secret"
REGION = "RegionOne"


class KeystoneError(RuntimeError):
    """Keystone could not be set up or started (the message says what it printed)."""


def keystone_bin(name: str) -> str:
    path = KEYSTONE_VENV / "bin" / name
    if not path.exists():
        raise KeystoneError(f"{path} is missing: run `bash scripts/setup test` (it makes .venv-keystone)")
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
    """One gunicorn serving Keystone with ``config``: one worker process with ``threads``. On SQLite,
    concurrent writes are "database is locked" 500s: two workers gave them under Tempest's load, and
    so did eight threads (Tempest makes and deletes users and projects for each test class), so the
    Tempest harness runs one thread (docs/tempest.md)."""

    config: Path
    port: int = field(default_factory=free_port)
    threads: int = 8
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The identity v3 URL (``--os-auth-url``, ``VOLCLONE_KEYSTONE_URL``)."""
        return f"http://127.0.0.1:{self.port}/v3"

    def start(self) -> None:
        log = open(self.config.with_suffix(".gunicorn.log"), "ab")
        self.proc = subprocess.Popen(
            [keystone_bin("gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1",
             "--threads", str(self.threads), "--worker-class", "gthread", "--timeout", "120",
             "--pythonpath", str(HERE), "keystone_wsgi:application"],
            env={**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(self.config)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KeystoneError(f"keystone exited:\n{self.log()}")
            try:
                if httpx.get(self.url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise KeystoneError(f"keystone did not come up:\n{self.log()}")

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
        (an id), or unscoped. The password is ``secret``, else ``password(user)``."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": secret or password(user)}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        elif domain is not None:
            auth["scope"] = {"domain": {"id": domain}}
        r = httpx.post(f"{self.url}/auth/tokens", json={"auth": auth}, timeout=30)
        if r.status_code != 201:
            raise KeystoneError(f"token for {user}: {r.status_code} {r.text}")
        return r.headers["X-Subject-Token"]

    def admin_client(self) -> httpx.Client:
        """An identity API client with a token of the bootstrap admin (project ``admin``)."""
        token = self.issue("admin", "admin", secret=ADMIN_PASSWORD)
        return httpx.Client(base_url=self.url, headers={"X-Auth-Token": token}, timeout=30)


def password(user: str) -> str:
    """The password the tests give the users they make."""
    return f"{user}-secret"


def keystone_manage(config: Path, *args: str) -> None:
    done = subprocess.run([keystone_bin("keystone-manage"), "--config-file", str(config), *args],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise KeystoneError(f"keystone-manage {args[0]}: {done.returncode}\n{done.stdout}\n{done.stderr}")


def make_key_repository(path: Path) -> None:
    """What ``keystone-manage fernet_setup`` (and ``credential_setup``) write: a staged key ``0``
    and a primary key ``1``, each 32 random bytes in URL-safe base64 (one process start saved each)."""
    path.mkdir(mode=0o700)
    for index in ("0", "1"):
        (path / index).write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
        (path / index).chmod(0o600)


def bring_up(base: Path, expiration_s: int = 3600, threads: int = 8) -> Keystone:
    """Set up a Keystone in the empty directory ``base`` and start it (the caller stops it)."""
    config = write_config(base / "keystone.conf", base, expiration_s=expiration_s)
    keystone = Keystone(config, threads=threads)
    keystone_manage(config, "db_sync")
    for repo in ("fernet-keys", "fernet-receipts", "credential-keys"):
        make_key_repository(base / repo)
    keystone_manage(config, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                    "--bootstrap-admin-url", keystone.url, "--bootstrap-public-url", keystone.url,
                    "--bootstrap-internal-url", keystone.url, "--bootstrap-region-id", REGION)
    try:
        keystone.start()
    except BaseException:
        keystone.stop()  # it may be up but too slow to answer
        raise
    return keystone


def ok(r: httpx.Response) -> Any:
    """The JSON of a successful identity API answer; a KeystoneError otherwise."""
    if r.status_code >= 300:
        raise KeystoneError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")
    return r.json() if r.content else None


def roles(admin: httpx.Client, *names: str) -> dict[str, str]:
    """The ids of the roles ``names``, made where missing (bootstrap makes admin, member, reader)."""
    known = {r["name"]: r["id"] for r in ok(admin.get("/roles"))["roles"]}
    for name in names:
        if name not in known:
            known[name] = ok(admin.post("/roles", json={"role": {"name": name}}))["role"]["id"]
    return known


def register_volclone(admin: httpx.Client, volclone_port: int) -> None:
    """volclone in the catalog as Cinder is: ``block-storage`` (cinder) and ``volumev3``
    (cinderv3), ``http://127.0.0.1:PORT/v3/%(project_id)s`` on every interface."""
    url = f"http://127.0.0.1:{volclone_port}/v3/%(project_id)s"
    for name, kind in (("cinder", "block-storage"), ("cinderv3", "volumev3")):
        sid = ok(admin.post("/services", json={"service": {"name": name, "type": kind}}))["service"]["id"]
        for interface in ("public", "internal", "admin"):
            ok(admin.post("/endpoints", json={"endpoint": {"service_id": sid, "interface": interface, "url": url,
                                                             "region_id": REGION}}))


def add_user(admin: httpx.Client, name: str, secret: str, project_id: str | None, role_id: str) -> str:
    """A user in the Default domain with ``role_id`` on the project (or on the domain if None)."""
    uid = ok(admin.post("/users", json={"user": {"name": name, "password": secret, "domain_id": "default"}})
             )["user"]["id"]
    target = f"/projects/{project_id}" if project_id else "/domains/default"
    ok(admin.put(f"{target}/users/{uid}/roles/{role_id}"))
    return str(uid)


def add_project(admin: httpx.Client, name: str) -> str:
    return str(ok(admin.post("/projects", json={"project": {"name": name, "domain_id": "default"}}))["project"]["id"])
