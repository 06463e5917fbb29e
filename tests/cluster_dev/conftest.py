"""One ``scripts/cluster-dev`` cluster for the whole directory: 2 API processes and 3 workers over
PostgreSQL, a private Redis, a RabbitMQ vhost and a one-node Ceph, on free ports under a
temporary directory (bringing one up takes 20-50 s, so test_cluster_dev.py and test_failover.py
share it).

The cluster's claims expire after :data:`CLAIM_EXPIRY_S` and its volumes count as stale (the
reaper's) after :data:`STALE_AFTER_S` (VOLCLONE_CLAIM_EXPIRY_S and VOLCLONE_STALE_AFTER_S in
``up``'s environment), so what a killed worker leaves is taken over within seconds. Tests marked
``cluster_down`` take the cluster down: they run after every other test of the session.
``VOLCLONE_TEST_CLUSTER_DIR=DIR`` makes the tests use the cluster already up in DIR (and leave it up).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from contract.ceph import PORTS as CEPH_PORTS
from contract.ceph import free_port_range

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster-dev"
APIS = ("api1", "api2")
WORKERS = ("w1", "w2", "w3")
#: The cluster's claim expiry: how soon another worker takes over a dead one's flows.
CLAIM_EXPIRY_S = 4
#: How long a volume stays in a transitional status before the reaper takes it for a dead process's.
STALE_AFTER_S = 10
SETTINGS = {"VOLCLONE_CLAIM_EXPIRY_S": str(CLAIM_EXPIRY_S), "VOLCLONE_STALE_AFTER_S": str(STALE_AFTER_S)}
NEEDS = ("ceph-mon", "ceph-osd", "redis-server", "rabbitmqctl", "psql", "qemu-io")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster_down: takes the shared cluster down (runs last)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("cluster_down") is not None)  # stable


def missing_tools() -> bool:
    return any(shutil.which(b) is None for b in NEEDS)


@dataclass
class Cluster:
    dir: Path
    env: dict[str, str]
    up: subprocess.CompletedProcess[str]

    def run(self, action: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), action, str(self.dir)], env={**self.env, **extra},
                              capture_output=True, text=True, timeout=timeout)

    @property
    def settings(self) -> dict[str, str]:
        lines = (self.dir / "env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    @property
    def token(self) -> str:
        return (self.dir / "admin-token").read_text().strip()

    def pids(self) -> dict[str, int]:
        return {p.stem: int(p.read_text()) for p in (self.dir / "run").glob("*.pid")}

    # -- for the failover tests ----------------------------------------------------------------
    def url(self, api: int) -> str:
        """The URL of API process ``api`` (0: api1, 1: api2)."""
        return f"http://127.0.0.1:{int(self.settings['CLUSTER_API_PORT']) + api}"

    def client(self, api: int, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url(api)}/v3/admin", headers={"X-Auth-Token": self.token},
                            timeout=timeout)

    def log(self, name: str) -> str:
        return (self.dir / "log" / f"{name}.log").read_text(errors="replace")

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the cluster's own PostgreSQL database."""
        url = self.settings["VOLCLONE_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=10, autocommit=True) as con:
            cur = con.execute(query, params)
            return cur.fetchall() if cur.description else []

    def kill(self, name: str, sig: int = signal.SIGKILL, wait: float = 60) -> int:
        """Signal process ``name`` and wait until it is gone; returns its pid."""
        pid = self.pids()[name]
        os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while alive(pid):
            assert time.monotonic() < deadline, f"{name} (pid {pid}) still runs {wait} s after signal {sig}"
            time.sleep(0.05)
        return pid

    def restart(self, **extra: str) -> subprocess.CompletedProcess[str]:
        """``up`` again: starts whatever process is not running (with ``extra`` in its environment)
        and waits until every API answers and every worker is up."""
        again = self.run("up", **extra)
        assert again.returncode == 0, again.stderr
        return again


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed child of ours (none are: cluster-dev's setsid makes them orphans) would be a zombie.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cluster_env(**extra: str) -> dict[str, str]:
    env = {**os.environ,
           "VOLCLONE_CLUSTER_REDIS_PORT": str(free_port_range(1)),
           "VOLCLONE_CLUSTER_API_PORT": str(free_port_range(2)),
           "VOLCLONE_CLUSTER_NBD_PORT": str(free_port_range(3)),
           "VOLCLONE_CLUSTER_CEPH_PORT": str(free_port_range(CEPH_PORTS)),
           **SETTINGS, **extra}
    env.pop("VOLCLONE_DATA_DIR", None)
    return env


@dataclass
class Brought:
    cluster: Cluster
    #: The first `up`, while something else held api1's port, and the pids it left running
    #: (None: the cluster was up already, VOLCLONE_TEST_CLUSTER_DIR).
    failed: subprocess.CompletedProcess[str] | None
    failed_pids: dict[str, int]


@pytest.fixture(scope="session")
def brought(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brought]:
    """The directory's cluster, brought up twice (one Ceph bring-up is ~10-40 s): first while
    api1's port is taken, so that `up` fails, then again, when it must start only what is missing."""
    if missing_tools():
        pytest.skip("needs Ceph, redis-server, RabbitMQ, psql and qemu-io (scripts/setup installs them)")
    reuse = os.environ.get("VOLCLONE_TEST_CLUSTER_DIR")
    if reuse:  # a cluster already up (up with SETTINGS in its environment): quick to iterate
        env = {**os.environ, **SETTINGS}
        env.pop("VOLCLONE_DATA_DIR", None)
        existing = Cluster(Path(reuse), env, subprocess.CompletedProcess([], 0))
        existing.up = existing.run("up")
        yield Brought(existing, None, {})
        return
    env = cluster_env()
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), env, subprocess.CompletedProcess([], 0))
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", int(env["VOLCLONE_CLUSTER_API_PORT"])))
            taken.listen()
            failed = cluster.run("up")
            failed_pids = cluster.pids()
        cluster.up = cluster.run("up")
        yield Brought(cluster, failed, failed_pids)
    finally:
        if (cluster.dir / "env").exists():
            cluster.run("down")


@pytest.fixture(scope="session")
def cluster(brought: Brought) -> Cluster:
    return brought.cluster
