"""``scripts/cluster-dev`` for real: 2 API processes and 3 workers over PostgreSQL, a private Redis,
a RabbitMQ vhost and a one-node Ceph, all on free ports under a temporary directory.

The cluster is the directory's (conftest.py: brought up twice, a first ``up`` failing because api1's
port is taken, so that one Ceph bring-up serves this file and test_failover.py); the test that takes
it down runs after every other. The last one here refuses Redis db numbers that hold keys.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from conftest import PG_SERVER

from .conftest import SCRIPT, WORKERS, Brought, Cluster, alive, missing_tools

pytestmark = pytest.mark.skipif(missing_tools(), reason="needs Ceph, redis-server, RabbitMQ, psql and qemu-io "
                                "(scripts/setup installs Ceph and qemu-utils)")


def database_exists(name: str) -> bool:
    with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=10) as con:
        return con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def vhosts() -> list[str]:
    out = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, check=True,
                         timeout=60)
    return out.stdout.split()


def assert_all_gone(cluster: Cluster, settings: dict[str, str], pids: dict[str, int]) -> None:
    assert pids, "the cluster had no processes"
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert not database_exists(settings["CLUSTER_DATABASE"])
    assert settings["CLUSTER_VHOST"] not in vhosts()
    assert sorted(p.name for p in cluster.dir.iterdir()) == ["log"]  # state removed, logs kept


def test_an_up_whose_api_cannot_start_names_it_and_the_next_up_starts_only_what_is_missing(
        brought: Brought) -> None:
    if brought.failed is None:
        pytest.skip("the cluster was up already (VOLCLONE_TEST_CLUSTER_DIR)")
    assert brought.failed.returncode == 1
    assert "api1 exited; the end of" in brought.failed.stderr, brought.failed.stderr
    assert "address already in use" in brought.failed.stderr.lower(), brought.failed.stderr
    assert brought.cluster.up.returncode == 0, brought.cluster.up.stderr
    now = brought.cluster.pids()
    assert {name: now[name] for name in ("redis", "api2", *WORKERS)} == \
        {name: brought.failed_pids[name] for name in ("redis", "api2", *WORKERS)}
    assert now["api1"] != brought.failed_pids.get("api1")


def test_up_prints_the_api_urls_last_and_each_answers(cluster: Cluster) -> None:
    assert cluster.up.returncode == 0, cluster.up.stderr
    port = int(cluster.env["VOLCLONE_CLUSTER_API_PORT"])
    urls = cluster.up.stdout.strip().splitlines()[-2:]
    assert urls == [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
    for url in urls:
        versions = httpx.get(f"{url}/", timeout=10).json()["versions"]
        assert any(v["id"].startswith("v3") for v in versions)


def test_the_three_workers_are_up(cluster: Cluster) -> None:
    answer = httpx.get(cluster.up.stdout.split()[-1] + "/v3/admin/os-services",
                       headers={"X-Auth-Token": cluster.token}, timeout=10)
    assert answer.status_code == 200, answer.text
    up = {s["host"].split("@")[0] for s in answer.json()["services"] if s["state"] == "up"}
    assert up >= set(WORKERS)


def test_a_volume_made_through_one_api_is_seen_through_the_other(cluster: Cluster) -> None:
    first, second = cluster.up.stdout.strip().splitlines()[-2:]
    headers = {"X-Auth-Token": cluster.token}
    with httpx.Client(headers=headers, timeout=30) as http:
        vtype = http.post(f"{first}/v3/admin/types", json={"volume_type": {
            "name": "ceph", "extra_specs": {"volume_backend_name": "ceph"}}})
        assert vtype.status_code == 200, vtype.text
        made = {}
        for kind, body in (("ceph", {"volume_type": "ceph"}), ("local", {})):
            answer = http.post(f"{first}/v3/admin/volumes", json={"volume": {"size": 1, "name": kind, **body}})
            assert answer.status_code == 202, answer.text
            made[kind] = answer.json()["volume"]["id"]
        deadline = time.monotonic() + 60
        for kind, vid in made.items():
            while (status := http.get(f"{second}/v3/admin/volumes/{vid}").json()["volume"]["status"]) == "creating":
                assert time.monotonic() < deadline, f"{kind} volume still creating"
                time.sleep(0.2)
            assert status == "available", kind


def test_status_shows_every_process_running(cluster: Cluster) -> None:
    status = cluster.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name in ("redis", "api1", "api2", *WORKERS, "ceph mon.a", "ceph osd.0"):
        assert re.search(rf"^{name}: running \(pid \d+", status.stdout, re.M), status.stdout


def test_up_again_says_so_and_prints_the_same_urls(cluster: Cluster) -> None:
    pids = cluster.pids()
    started = time.monotonic()
    again = cluster.run("up")
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 10
    assert "already up" in again.stderr
    assert again.stdout.splitlines()[-2:] == cluster.up.stdout.splitlines()[-2:]
    assert cluster.pids() == pids


def nbd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-io", "-f", "raw", *args], capture_output=True, text=True, timeout=60)


def test_a_restart_of_the_local_pools_worker_keeps_its_nbd_clients(cluster: Cluster) -> None:
    """w3 stops with a volume attached: its qemu-storage-daemon keeps serving, the next `up`
    starts w3 again and it takes the daemon over (what docs/deploy.md's KillMode=process keeps)."""
    first = cluster.up.stdout.strip().splitlines()[-2]
    with httpx.Client(headers={"X-Auth-Token": cluster.token}, timeout=30) as http:
        vid = http.post(f"{first}/v3/admin/volumes", json={"volume": {"size": 1}}).json()["volume"]["id"]
        answer = http.post(f"{first}/v3/admin/attachments", headers={"OpenStack-API-Version": "volume 3.27"},
                           json={"attachment": {"volume_uuid": vid, "connector": {"host": "h1", "mode": "rw"}}})
        assert answer.status_code == 200, answer.text
    uri = answer.json()["attachment"]["connection_info"]["data"]["uri"]
    assert uri.endswith(f":{int(cluster.env['VOLCLONE_CLUSTER_NBD_PORT']) + 2}/{vid}")  # w3's port
    assert nbd("-c", "write -P 0xab 0 64k", uri).returncode == 0
    daemon, worker = int((cluster.dir / "w3" / "run" / "qsd.pid").read_text()), cluster.pids()["w3"]
    os.kill(worker, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while alive(worker):
        assert time.monotonic() < deadline, "w3 does not stop"
        time.sleep(0.1)
    assert alive(daemon)
    assert nbd("-r", "-c", "read -P 0xab 0 64k", uri).returncode == 0
    again = cluster.run("up")
    assert again.returncode == 0, again.stderr
    assert cluster.pids()["w3"] != worker
    assert "took over the running qemu-storage-daemon" in (cluster.dir / "log" / "w3.log").read_text()
    assert int((cluster.dir / "w3" / "run" / "qsd.pid").read_text()) == daemon
    assert nbd("-r", "-c", "read -P 0xab 0 64k", uri).returncode == 0


@pytest.mark.cluster_down
def test_down_stops_everything_and_drops_what_up_made(cluster: Cluster) -> None:
    settings, pids = cluster.settings, cluster.pids()
    # The daemon w3 leaves serving the attachment above goes too.
    pids["qsd-w3"] = int((cluster.dir / "w3" / "run" / "qsd.pid").read_text())
    assert database_exists(settings["CLUSTER_DATABASE"])
    assert settings["CLUSTER_VHOST"] in vhosts()
    down = cluster.run("down")
    assert down.returncode == 0, down.stderr
    assert_all_gone(cluster, settings, pids)


def test_up_on_the_shared_redis_refuses_db_numbers_that_hold_keys(tmp_path: Path) -> None:
    """On the machine's Redis, two clusters on one db number would claim each other's jobs: `up`
    takes only empty ones (and `down` empties them again), and refuses before making anything."""
    import redis

    free = [n for n in range(4, 15) if redis.Redis(db=n).dbsize() == 0]
    if not free:
        pytest.skip("no empty Redis db number to try with")
    n, key = free[-1], f"cluster-dev-test-{os.getpid()}"
    redis.Redis(db=n).set(key, "someone else's", ex=120)
    env = {**os.environ, "VOLCLONE_CLUSTER_REDIS_DB": str(n - 1)}
    env.pop("VOLCLONE_CLUSTER_REDIS_PORT", None)
    try:
        up = subprocess.run(["bash", str(SCRIPT), "up", str(tmp_path / "c")], env=env, capture_output=True,
                            text=True, timeout=60)
        assert up.returncode == 1
        assert f"redis db {n} on 127.0.0.1:6379 holds 1 keys" in up.stderr, up.stderr
        assert not database_exists(Cluster(tmp_path / "c", env, up).settings["CLUSTER_DATABASE"])
    finally:
        redis.Redis(db=n).delete(key)
        subprocess.run(["bash", str(SCRIPT), "down", str(tmp_path / "c")], env=env, capture_output=True,
                       timeout=60)
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["log"]


@pytest.mark.parametrize("workers", ["0", "9", "two"])
def test_up_refuses_a_number_of_rbd_workers_out_of_range_and_makes_nothing(tmp_path: Path, workers: str) -> None:
    env = {**os.environ, "VOLCLONE_CLUSTER_RBD_WORKERS": workers}
    up = subprocess.run(["bash", str(SCRIPT), "up", str(tmp_path / "c")], env=env, capture_output=True,
                        text=True, timeout=60)
    assert up.returncode == 1
    assert f"VOLCLONE_CLUSTER_RBD_WORKERS must be 1..8, not '{workers}'" in up.stderr, up.stderr
    assert list((tmp_path / "c").iterdir()) == []
