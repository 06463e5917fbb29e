"""Shared fixtures: a real ``volclone serve`` on a free port, tokens, and an HTTP client.

Every API/CLI/flow test goes through a real server process with a real
qemu-storage-daemon and real files in a temporary data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

VOLCLONE = str(Path(sys.executable).parent / "volclone")
#: The quota settings the test servers set to -1 (unlimited) unless a test gives them.
UNLIMITED_QUOTAS = ("VOLCLONE_QUOTA_VOLUMES", "VOLCLONE_QUOTA_GIGABYTES", "VOLCLONE_QUOTA_SNAPSHOTS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "VOLCLONE_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run([VOLCLONE, *args], env=full_env, capture_output=True, text=True, check=check,
                          timeout=120)


def make_token(data_dir: Path, project: str, admin: bool = False) -> str:
    out = run_cli(data_dir, "token", "create", "--project", project, *(["--admin"] if admin else []))
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    """One running ``volclone serve``; ``client(token)`` talks to it."""

    data_dir: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __post_init__(self) -> None:
        # Each server serves NBD on a port of its own, kept across restarts (same address).
        self.env.setdefault("VOLCLONE_NBD_PORT", str(free_port()))
        # No quotas unless a test sets them: the shared servers hold many tests' volumes
        # (the quota tests set their own limits; the defaults are Cinder's 10/1000/10).
        for name in UNLIMITED_QUOTAS:
            self.env.setdefault(name, "-1")

    @property
    def nbd_port(self) -> int:
        return int(self.env["VOLCLONE_NBD_PORT"])

    def start(self) -> None:
        env = {**os.environ, "VOLCLONE_DATA_DIR": str(self.data_dir), **self.env}
        log = open(self.data_dir / "serve.log", "ab")
        self.proc = subprocess.Popen([VOLCLONE, "serve", "--port", str(self.port)], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"volclone serve exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/v3/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"volclone serve did not come up:\n{self.log()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the service (SIGTERM, or SIGKILL with ``kill``). Its qemu-storage-daemon
        outlives it while it serves attached volumes; :meth:`close` stops that too."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(30)
        self.proc = None

    def daemon_pid(self) -> int | None:
        """The pid of the data directory's qemu-storage-daemon, if one runs."""
        try:
            pid = int((self.data_dir / "run" / "qsd.pid").read_text().strip())
            alive = b"qemu-storage-daemon" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if alive else None

    def close(self) -> None:
        """Stop the service and the daemon it may have left serving (end of a test)."""
        self.stop()
        pid = self.daemon_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")

    def client(self, token: str | None, project: str) -> Api:
        return Api(self, token, project)

    # -- looking underneath (test seams: the pool, the database, the daemon) --
    def pool_files(self) -> set[str]:
        return {p.name for p in (self.data_dir / "pool").glob("*")}

    def db_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.data_dir / "volclone.db")
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def active_file(self, volume_id: str) -> Path:
        """The qcow2 file a volume's writes go to (for writing test data with qemu-io)."""
        rows = self.db_rows("SELECT id FROM layers WHERE volume_id = ?", volume_id)
        assert rows, f"volume {volume_id} has no active layer"
        return self.data_dir / "pool" / f"{rows[0][0]}.qcow2"

    def daemon_nodes(self) -> list[str]:
        """Node names open in the server's qemu-storage-daemon, asked over its QMP socket."""
        from qemu.qmp.legacy import QEMUMonitorProtocol

        qmp = QEMUMonitorProtocol(str(self.data_dir / "run" / "qsd.qmp"))
        qmp.settimeout(10)
        qmp.connect()
        try:
            nodes = qmp.cmd("query-named-block-nodes", flat=True)
        finally:
            qmp.close()
        return [n["node-name"] for n in nodes if not n["node-name"].startswith("#")]


class Api:
    """httpx against one project, with the token set (or not)."""

    def __init__(self, server: Server, token: str | None, project: str) -> None:
        self.server = server
        self.project = project
        headers = {"X-Auth-Token": token} if token else {}
        self.http = httpx.Client(base_url=f"{server.url}/v3/{project}", headers=headers, timeout=60)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        r = self.request(method, path, **kw)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def create_volume(self, size: int = 1, name: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"volume": {"size": size, **({"name": name} if name else {}), **extra}}
        return self.ok("POST", "/volumes", json=body)["volume"]  # type: ignore[no-any-return]

    def clone(self, volume_ids: list[str], **fields: Any) -> str:
        """POST clone-volumes; returns the task id."""
        body = {"clone-volumes": {"volumes": volume_ids, **fields}}
        uri = self.ok("POST", "/clone-volumes", json=body)["clone-volumes"]["task_uri"]
        return str(httpx.URL(uri).params["task_id"])

    def progress(self, task_id: str) -> dict[str, Any]:
        return self.ok("GET", "/clone-volumes/get_progress",  # type: ignore[no-any-return]
                       params={"action": "clone-volumes", "task_id": task_id})

    def wait(self, task_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll get_progress until the flow ends; checks progress never goes down."""
        deadline = time.monotonic() + timeout
        last = -1
        p: dict[str, Any] = {}
        while time.monotonic() < deadline:
            p = self.progress(task_id)
            assert p["progress"] >= last, f"progress went down: {last} -> {p['progress']}"
            last = p["progress"]
            if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
                return p
            time.sleep(0.02)
        raise AssertionError(f"clone task {task_id} did not end in {timeout}s: {p}")


@dataclass
class Env:
    """A server with an admin token and a user token for project ``p1``."""

    server: Server
    admin: Api
    user: Api
    user_token: str
    admin_token: str


def _start(tmp: Path, extra_env: dict[str, str] | None = None) -> Env:
    tmp.mkdir(parents=True, exist_ok=True)
    admin_token = make_token(tmp, "admin", admin=True)
    user_token = make_token(tmp, "p1")
    server = Server(tmp, free_port(), env=extra_env or {})
    server.start()
    return Env(server, server.client(admin_token, "p1"), server.client(user_token, "p1"), user_token, admin_token)


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One shared server for tests that don't need a special environment."""
    e = _start(tmp_path_factory.mktemp("volclone"))
    yield e
    e.server.close()


@pytest.fixture
def make_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start a server of one's own, e.g. with ``VOLCLONE_FAILPOINTS`` set."""
    started: list[Env] = []

    def _make(**extra_env: str) -> Env:
        e = _start(tmp_path_factory.mktemp("volclone"), extra_env)
        started.append(e)
        return e

    yield _make
    for e in started:
        e.server.close()
