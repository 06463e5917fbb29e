"""The scale-out roles survive their processes dying, on a real ``scripts/cluster-dev`` cluster
(PostgreSQL, Redis, RabbitMQ, one-node Ceph; 2 APIs, rbd workers w1 and w2, local-pool worker w3),
driven only through the HTTP API, with requests spread over both API processes.

* clones of rbd and local volumes made, watched and deleted through both APIs; a revert leaves
  nothing behind;
* ``kill -9`` of an API process while flows run: they end through the other API;
* ``kill -9`` of the rbd worker running a flow, in its longest task (a deep copy of data written
  through librbd): the other rbd worker takes the flow over once the claim expires (the cluster's
  claims expire after 4 s) and it ends SUCCESS, with no clone made twice;
* many clones of the same sources at once through both APIs: each flow runs exactly once;
* a restart of the local pool's worker while a writer writes to an attached volume over NBD:
  no write fails, none is lost.

The cluster is the directory's (conftest.py); every test leaves it with all its processes running.
"""

from __future__ import annotations

import datetime as dt
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from attach.support import MV, Model, block, connect, digest, offset_of, opened

from .conftest import CLAIM_EXPIRY_S, STALE_AFTER_S, Cluster, missing_tools

pytestmark = pytest.mark.skipif(missing_tools(), reason="needs Ceph, redis-server, RabbitMQ and psql "
                                "(scripts/setup installs Ceph)")

MIB = 1024 * 1024
POOL = "rbd"
RBD_TYPE = "failover-ceph"
ENDED = ("SUCCESS", "REVERTED", "FAILURE")
#: Time for a flow to end, once it runs (or once a dead worker's claim expired).
FLOW_S = 90.0


# -- helpers -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def apis(cluster: Cluster) -> Iterator[list[httpx.Client]]:
    assert cluster.up.returncode == 0, cluster.up.stderr
    clients = [cluster.client(0), cluster.client(1)]
    types = [t["name"] for t in clients[0].get("/types").json()["volume_types"]]
    if RBD_TYPE not in types:  # clone_mode=full: deep copies, whatever the Ceph release
        made = clients[0].post("/types", json={"volume_type": {
            "name": RBD_TYPE, "extra_specs": {"volume_backend_name": "ceph", "clone_mode": "full"}}})
        assert made.status_code == 200, made.text
    # 8 clones of 3 volumes at once are more than the default quotas allow.
    ok(clients[0].put("/os-quota-sets/admin", json={"quota_set": {"volumes": -1, "gigabytes": -1}}))
    yield clients
    ok(clients[0].delete("/os-quota-sets/admin"))
    for c in clients:
        c.close()


@pytest.fixture(scope="module")
def io(cluster: Cluster) -> Iterator[Any]:
    """A rados I/O context of the tests' own on the cluster's rbd pool."""
    import rados

    conn = rados.Rados(conffile=str(cluster.dir / "ceph" / "ceph.conf"))
    conn.connect(timeout=30)
    ioctx = conn.open_ioctx(POOL)
    yield ioctx
    ioctx.close()
    conn.shutdown()


def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return answer.json() if answer.content else None


def volumes(api: httpx.Client, count: int, rbd: bool, other: httpx.Client) -> list[str]:
    """``count`` new 1 GiB volumes made through ``api``, available as ``other`` sees them."""
    body: dict[str, Any] = {"size": 1, "volume_type": RBD_TYPE} if rbd else {"size": 1}
    vids = [ok(api.post("/volumes", json={"volume": {**body, "name": f"fo-{uuid.uuid4().hex[:6]}"}}), 202)
            ["volume"]["id"] for _ in range(count)]
    deadline = time.monotonic() + 60
    for vid in vids:
        while (status := ok(other.get(f"/volumes/{vid}"))["volume"]["status"]) == "creating":
            assert time.monotonic() < deadline, f"volume {vid} still creating"
            time.sleep(0.1)
        assert status == "available", (vid, status)
    return vids


def image(vid: str) -> str:
    return f"volume-{vid}"


def write(io: Any, vid: str, length: int, seed: int) -> None:
    """``length`` bytes (whole MiB) of a pattern of ``seed`` at the start of rbd volume ``vid``."""
    import rbd

    with rbd.Image(io, image(vid)) as img:
        for off in range(0, length, 4 * MIB):
            img.write(pattern(seed, off, min(4 * MIB, length - off)), off)


def pattern(seed: int, offset: int, length: int) -> bytes:
    return bytes([(seed * 31 + offset // MIB) % 251 + 1]) * length


def read(io: Any, vid: str, offset: int, length: int) -> bytes:
    import rbd

    with rbd.Image(io, image(vid), read_only=True) as img:
        return bytes(img.read(offset, length))


def images(io: Any) -> set[str]:
    import rbd

    return set(rbd.RBD().list(io))


def clone(api: httpx.Client, vids: list[str]) -> str:
    uri = ok(api.post("/clone-volumes", json={"clone-volumes": {"volumes": vids}}))["clone-volumes"]["task_uri"]
    return str(uri.split("task_id=")[1])


def progress(api: httpx.Client, task: str) -> dict[str, Any]:
    return ok(api.get("/clone-volumes/get_progress", params={"action": "clone-volumes", "task_id": task}))  # type: ignore[no-any-return]


def watch(clients: list[httpx.Client], task: str, timeout: float = FLOW_S) -> dict[str, Any]:
    """Poll get_progress, alternating over ``clients``, until the flow ends; the last answer."""
    deadline, i = time.monotonic() + timeout, 0
    while True:
        p = progress(clients[i % len(clients)], task)
        i += 1
        if p["flow_details"]["cloneFlow"] in ENDED:
            return p
        assert time.monotonic() < deadline, f"clone task {task} did not end within {timeout} s: {p}"
        time.sleep(0.1)


def clone_rows(cluster: Cluster, task: str) -> list[tuple[str, str]]:
    """(clone id, source id) of every volume row the task made."""
    return [(r[0], r[1]) for r in cluster.sql(
        "SELECT id, metadata->>'clone_source_volume_id' FROM volumes WHERE metadata->>'clone_task_id' = %s "
        "ORDER BY id", task)]


def check_clones(cluster: Cluster, clients: list[httpx.Client], task: str, sources: list[str]) -> dict[str, str]:
    """The task's clones exist, one per source, available, with the metadata naming where they came
    from (read through each API); returns source -> clone."""
    p = progress(clients[0], task)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    made = dict(p["details"]["results"])
    assert sorted(made) == sorted(sources)
    assert sorted(clone_rows(cluster, task)) == sorted((c, s) for s, c in made.items()), "a clone made twice?"
    for n, (source, clone_id) in enumerate(made.items()):
        vol = ok(clients[n % 2].get(f"/volumes/{clone_id}"))["volume"]
        assert vol["status"] == "available", vol
        assert vol["metadata"] == {"clone_source_volume_id": source, "clone_task_id": task}, vol
    return made


def delete(api: httpx.Client, other: httpx.Client, vids: list[str]) -> None:
    """Delete through ``api`` and wait until ``other`` no longer finds them."""
    for vid in vids:
        ok(api.delete(f"/volumes/{vid}"), 202)
    deadline = time.monotonic() + 60
    for vid in vids:
        while (answer := other.get(f"/volumes/{vid}")).status_code != 404:
            assert answer.json()["volume"]["status"] == "deleting", answer.text
            assert time.monotonic() < deadline, f"volume {vid} not deleted"
            time.sleep(0.1)


def runs(cluster: Cluster, task: str) -> list[tuple[str, str]]:
    """(worker, log timestamp) of every ``runs clone flow <task>`` line in the workers' logs."""
    found = []
    for worker in ("w1", "w2", "w3"):
        for m in re.finditer(rf"^(\S+ \S+) INFO \S+: conductor {worker}\.\S+ runs clone flow {task} ",
                             cluster.log(worker), re.M):
            found.append((worker, m.group(1)))
    return found


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.05)
    return value


def log_time(stamp: str) -> float:
    """A worker log's timestamp (UTC, the machine's zone) as a POSIX time."""
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=dt.UTC).timestamp()


# -- 1. the clone API against the cluster -----------------------------------------------------------
def test_rbd_clones_made_through_one_api_watched_through_both_deleted_through_the_other(
        cluster: Cluster, apis: list[httpx.Client], io: Any) -> None:
    api1, api2 = apis
    sources = volumes(api1, 2, rbd=True, other=api2)
    for n, vid in enumerate(sources):
        write(io, vid, 8 * MIB, seed=n)
    before = images(io)

    task = clone(api2, sources)
    assert watch(apis, task)["flow_details"] == {"cloneFlow": "SUCCESS"}
    made = check_clones(cluster, apis, task, sources)
    assert images(io) == before | {image(c) for c in made.values()}
    for source, clone_id in made.items():
        assert read(io, clone_id, 0, 8 * MIB) == read(io, source, 0, 8 * MIB) != bytes(8 * MIB)
    assert [w for w, _ in runs(cluster, task)] in (["w1"], ["w2"])

    delete(api1, api2, [*made.values(), *sources])
    assert images(io) == before - {image(s) for s in sources}


def test_local_clones_run_on_the_local_pools_worker(cluster: Cluster, apis: list[httpx.Client]) -> None:
    api1, api2 = apis
    sources = volumes(api1, 3, rbd=False, other=api2)
    task = clone(api2, sources)
    assert watch(apis, task)["flow_details"] == {"cloneFlow": "SUCCESS"}
    made = check_clones(cluster, apis, task, sources)
    assert [w for w, _ in runs(cluster, task)] == ["w3"]
    for clone_id in made.values():
        host = ok(api2.get(f"/volumes/{clone_id}"))["volume"]["os-vol-host-attr:host"]
        assert host.split("@", 1)[1].startswith("local#")
    delete(api1, api2, [*made.values(), *sources])


def test_a_clone_that_reverts_leaves_nothing(cluster: Cluster, apis: list[httpx.Client], io: Any) -> None:
    """A source whose image went behind volclone's back: the group snapshot fails in the worker
    and the flow reverts, leaving no clone row, image, group or snapshot."""
    import rbd

    api1, api2 = apis
    sources = volumes(api1, 2, rbd=True, other=api2)
    rbd.RBD().remove(io, image(sources[1]))
    before = (images(io), cluster.sql("SELECT id, status FROM volumes ORDER BY id"))

    task = clone(api2, sources)
    p = watch(apis, task)
    assert p["flow_details"] == {"cloneFlow": "REVERTED"}, p
    assert (images(io), cluster.sql("SELECT id, status FROM volumes ORDER BY id")) == before
    assert clone_rows(cluster, task) == []
    assert cluster.sql("SELECT id FROM volume_groups WHERE task_id = %s", task) == []
    assert cluster.sql("SELECT id FROM clone_leftovers WHERE task_id = %s", task) == []
    assert not [o for o in io.list_objects() if o.key.startswith("volclone_group_snapshot.")]
    with rbd.Image(io, image(sources[0]), read_only=True) as img:
        assert list(img.list_snaps()) == []
    delete(api1, api2, sources)


# -- 2. an API process dies ----------------------------------------------------------------------
def test_flows_go_on_when_the_api_that_started_them_is_killed(cluster: Cluster, apis: list[httpx.Client],
                                                              io: Any) -> None:
    api1, api2 = apis
    sources = volumes(api2, 2, rbd=True, other=api1)
    for n, vid in enumerate(sources):
        write(io, vid, 64 * MIB, seed=10 + n)
    tasks = [clone(api1, sources) for _ in range(3)]
    cluster.kill("api1")
    assert [progress(api2, t)["flow_details"]["cloneFlow"] for t in tasks] != ["SUCCESS"] * 3, \
        "the flows ended before the kill: the test proves nothing"
    with pytest.raises(httpx.TransportError):
        api1.get("/volumes")

    for task in tasks:
        assert watch([api2], task)["flow_details"] == {"cloneFlow": "SUCCESS"}
    cluster.restart()
    made = [check_clones(cluster, apis, task, sources) for task in tasks]  # api1 answers again
    delete(api1, api2, [c for m in made for c in m.values()] + sources)


# -- 3. the rbd worker running a flow dies ------------------------------------------------------------
def test_a_killed_rbd_workers_flow_is_taken_over_by_the_other_and_makes_each_clone_once(
        cluster: Cluster, apis: list[httpx.Client], io: Any) -> None:
    api1, api2 = apis
    sources = volumes(api1, 2, rbd=True, other=api2)
    for n, vid in enumerate(sources):
        write(io, vid, 256 * MIB, seed=20 + n)  # a deep copy of some seconds
    before = images(io)

    task = clone(api2, sources)
    first = wait_for("a worker claiming the flow", lambda: runs(cluster, task), timeout=30)
    assert len(first) == 1, first
    victim = first[0][0]
    assert victim in ("w1", "w2"), first
    copying = f"create_group_clone-{task[:8]}"
    wait_for("the deep copy running", lambda: progress(api1, task)["pending_tasks"].get(copying) == "RUNNING",
             timeout=30)
    killed_at = time.time()
    cluster.kill(victim)
    assert progress(api2, task)["flow_details"]["cloneFlow"] == "RUNNING"

    survivor = {"w1": "w2", "w2": "w1"}[victim]
    taken = wait_for("the other worker taking the flow over",
                     lambda: [r for r in runs(cluster, task) if r[0] == survivor], timeout=CLAIM_EXPIRY_S + 30)
    hand_off = log_time(taken[0][1]) - killed_at
    assert watch(apis, task)["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert sorted(w for w, _ in runs(cluster, task)) == sorted([victim, survivor])
    made = check_clones(cluster, apis, task, sources)
    assert images(io) == before | {image(c) for c in made.values()}, "a clone twice, or a partial image left"
    for source, clone_id in made.items():  # the first and the last chunk the takeover copied again
        for offset in (0, 252 * MIB):
            assert read(io, clone_id, offset, 4 * MIB) == read(io, source, offset, 4 * MIB) != bytes(4 * MIB)
    print(f"hand-off after kill -9 of {victim}: {hand_off:.1f} s (claim expiry {CLAIM_EXPIRY_S} s)")
    assert hand_off < CLAIM_EXPIRY_S + 10

    cluster.restart()  # the killed worker starts again and serves its backend
    services = ok(api1.get("/os-services"))["services"]
    assert {s["host"] for s in services if s["state"] == "up"} >= {f"{victim}@ceph", f"{survivor}@ceph"}
    delete(api1, api2, [*made.values(), *sources])


# -- 4. two rbd workers, many clones of the same sources at once ---------------------------------------
def test_many_clones_of_the_same_sources_at_once_each_run_once(cluster: Cluster, apis: list[httpx.Client],
                                                              io: Any) -> None:
    api1, api2 = apis
    sources = volumes(api1, 3, rbd=True, other=api2)
    for n, vid in enumerate(sources):
        write(io, vid, 4 * MIB, seed=30 + n)
    before = images(io)
    with ThreadPoolExecutor(8) as pool:
        tasks = list(pool.map(lambda i: clone(apis[i % 2], sources), range(8)))
    assert len(set(tasks)) == 8

    for task in tasks:
        assert watch(apis, task)["flow_details"] == {"cloneFlow": "SUCCESS"}
    ran = {task: [w for w, _ in runs(cluster, task)] for task in tasks}
    assert all(len(workers) == 1 and workers[0] in ("w1", "w2") for workers in ran.values()), ran
    made = [check_clones(cluster, apis, task, sources) for task in tasks]
    clones = [c for m in made for c in m.values()]
    assert len(set(clones)) == 24
    assert images(io) == before | {image(c) for c in clones}
    delete(api2, api1, [*clones, *sources])


# -- 5. the local pool's worker restarts under a writer --------------------------------------------------
def daemon_pid(cluster: Cluster) -> int:
    return int((cluster.dir / "w3" / "run" / "qsd.pid").read_text().strip())


class Writer(threading.Thread):
    """Writes distinct blocks to ``uri`` with a flush after each until halted, recording each one
    whose flush returned."""

    def __init__(self, uri: str) -> None:
        super().__init__(daemon=True)
        self.uri, self.model = uri, Model()
        self.flushed = 0
        self.error: Exception | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        import nbd

        h = connect(self.uri)
        try:
            i = 0
            while not self.halt.is_set():
                self.model.write(h, offset_of(i), block(i))
                i += 1
                self.flushed = i
        except nbd.Error as exc:
            self.error = exc
        finally:
            h.shutdown()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        wait_for(f"{count} writes", lambda: self.error is not None or self.flushed >= count, timeout)
        assert self.error is None, f"the writer failed: {self.error}"


def test_a_writer_sees_no_error_across_a_restart_of_the_local_pools_worker(
        cluster: Cluster, apis: list[httpx.Client]) -> None:
    api1, api2 = apis
    [vid] = volumes(api1, 1, rbd=False, other=api2)
    attachment = ok(api2.post("/attachments", headers=MV, json={"attachment": {
        "volume_uuid": vid, "instance_uuid": str(uuid.uuid4()), "connector": {"host": "test-host"},
        "mode": "rw"}}))["attachment"]
    ok(api1.put(f"/attachments/{attachment['id']}", headers=MV, json={"attachment": {}}))
    uri = attachment["connection_info"]["data"]["uri"]
    assert uri.startswith(f"nbd://127.0.0.1:{int(cluster.settings['CLUSTER_NBD_PORT']) + 2}/"), uri
    daemon = daemon_pid(cluster)

    writer = Writer(uri)
    writer.start()
    writer.wait_for(50)
    cluster.kill("w3", signal.SIGTERM)
    writer.wait_for(writer.flushed + 50)  # served while no worker runs
    cluster.restart()
    writer.wait_for(writer.flushed + 50)  # and after its start
    writer.halt.set()
    writer.join(30)
    assert writer.error is None and not writer.is_alive(), writer.error
    assert daemon_pid(cluster) == daemon, "the same daemon serves on"
    with opened(uri, timeout=15) as h:
        assert digest(h) == writer.model.digest(), "a flushed write was lost"
    assert ok(api1.get(f"/volumes/{vid}"))["volume"]["status"] == "in-use"

    ok(api2.delete(f"/attachments/{attachment['id']}", headers=MV))
    delete(api1, api2, [vid])


def test_the_cluster_is_whole_after_the_failovers(cluster: Cluster) -> None:
    """Every process runs (none of the tests above left one dead or a second one of a name)."""
    status = cluster.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name in ("api1", "api2", "w1", "w2", "w3"):
        assert re.search(rf"^{name}: running \(pid \d+", status.stdout, re.M), status.stdout
    assert Path(cluster.dir / "log").is_dir()


# -- 6. what a dead worker left in a transitional status goes by itself --------------------------------
@pytest.mark.parametrize("rbd", [True, False], ids=["rbd", "local"])
def test_a_volume_a_dead_worker_left_creating_is_cleaned_up_with_no_admin_call(
        cluster: Cluster, apis: list[httpx.Client], io: Any, rbd: bool) -> None:
    """As a worker killed in the middle of a create leaves it: the row ``creating`` and unchanged
    for long, the backend's volume made. The reaper of a worker serving the backend removes both."""
    api1, api2 = apis
    [vid] = volumes(api1, 1, rbd=rbd, other=api2)
    cluster.sql("UPDATE volumes SET status = 'creating', updated_at = (now() AT TIME ZONE 'utc') - interval "
                "'1 hour' WHERE id = %s", vid)
    assert ok(api2.get(f"/volumes/{vid}"))["volume"]["status"] == "creating"
    wait_for("the reaper removing the volume", lambda: api1.get(f"/volumes/{vid}").status_code == 404,
             timeout=STALE_AFTER_S + 20)
    assert cluster.sql("SELECT id FROM volumes WHERE id = %s", vid) == []
    if rbd:
        assert image(vid) not in images(io)
    else:
        assert not list((cluster.dir / "w3").rglob(f"*{vid}*")), "the local pool still holds the volume"
