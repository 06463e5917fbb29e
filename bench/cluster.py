"""The scale-out roles on ``scripts/cluster-dev``: clone throughput per number of rbd workers, the
job board's hand-off latency (post -> claim), and get_progress under a fixed arrival rate.

A throwaway cluster (private Redis, free ports, ``VOLCLONE_CLUSTER_RBD_WORKERS=3``: w1, w2, w4
on backend ``ceph``, w3 on the local pool, 2 API processes) is made in a temporary directory
under /var/tmp and taken down at the end. ``--requests`` x ``--volumes`` source volumes (1 GiB,
a few MiB written with the rbd bindings; each request has its own, so all can run at once) are
made once and reused.

1. **Throughput**: ``--requests`` clone-volumes requests at once (the rbd driver's own clone:
   COW clones of the group snapshot from Ceph 19 on, deep copies on Ceph 16), half through each
   API, each polling its get_progress every ``--client-poll`` s; with 3, 2 and 1 rbd workers
   (workers are stopped with SIGTERM to get fewer). Reported:
   requests/s and volumes/s over the wall time (first POST to the last flow's end), per-request
   latency p50/p99 (POST sent -> the flow's end as persisted, ``flowdetails.updated_at``; the
   client's own view, quantised by its poll, beside it), and every HTTP status counted.
2. **Hand-off** post -> claim, from the processes' logs: the API logs ``clone flow F posted ...
   as job J`` right after the post (``%(asctime)s``, ms), the worker ``conductor C runs clone flow
   F (job J)`` right after its claim. (TaskFlow's Redis ``last_modified`` key is not the claim
   time: the owning conductor re-claims its own jobs on every pass over the board, which rewrites
   it.) Measured idle (one request at a time, random gaps, 2 workers) and under the throughput
   runs' load (which includes waiting for a free job slot). For each ``--poll-periods`` value
   (``VOLCLONE_JOBBOARD_POLL_S``; the workers are restarted with it).
3. **get_progress** open loop: each of ``--rates`` requests/s for ``--duration`` s split over both APIs,
   each due at its time whatever the answers before it did and sent over one of ``--connections``
   connections per API as soon as one is free; latency counts from the due time (so a server
   falling behind shows as queueing), while clone requests keep running.

    .venv/bin/python bench/cluster.py [--requests 20 --volumes 5] [--poll-periods 0.5,0.1]
        [--rates 200,50 --duration 20] [--rounds 1]

The machine is shared: the load average is recorded before and after each case. Writes
bench/results/cluster.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from rbd_clone import free_port_range

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "cluster-dev"

GIB, MIB = 1024**3, 1024**2
SIZE_GIB, EXTENT, EXTENTS = 1, 2 * MIB, 2  # 2 x 2 MiB written per source
RBD_WORKERS = ("w1", "w2", "w4")  # cluster-dev's names for 3 rbd workers
PROJECT = "admin"
ENDED = ("SUCCESS", "REVERTED", "FAILURE")
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
POSTED = re.compile(r"clone flow (\S+) posted to backend \S+ job board as job (\S+)")
RUNS = re.compile(r"conductor (\S+) runs clone flow (\S+) \(job (\S+)\)")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def dist(values: list[float], unit: str = "s", digits: int = 3) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), f"p50_{unit}": round(pct(values, 50), digits),
            f"p95_{unit}": round(pct(values, 95), digits), f"p99_{unit}": round(pct(values, 99), digits),
            f"mean_{unit}": round(statistics.fmean(values), digits),
            f"max_{unit}": round(max(values), digits)}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- the cluster ---------------------------------------------------------------------------------
class Cluster:
    """A ``scripts/cluster-dev`` cluster in ``dir``; ``workers(n, poll_s)`` makes n rbd workers run."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        self.env = {**os.environ,
                    "VOLCLONE_CLUSTER_REDIS_PORT": str(free_port_range(1)),
                    "VOLCLONE_CLUSTER_API_PORT": str(free_port_range(2)),
                    "VOLCLONE_CLUSTER_NBD_PORT": str(free_port_range(4)),
                    "VOLCLONE_CLUSTER_CEPH_PORT": str(free_port_range()),
                    "VOLCLONE_CLUSTER_RBD_WORKERS": str(len(RBD_WORKERS)),
                    # No quotas: the benchmark makes far more volumes than Cinder's default 10.
                    "VOLCLONE_QUOTA_VOLUMES": "-1", "VOLCLONE_QUOTA_GIGABYTES": "-1",
                    "VOLCLONE_QUOTA_SNAPSHOTS": "-1"}
        self.env.pop("VOLCLONE_DATA_DIR", None)
        self.urls: list[str] = []
        self.poll_s: float | None = None

    def run(self, action: str, **env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["bash", str(SCRIPT), action, str(self.dir)], env={**self.env, **env},
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"cluster-dev {action} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def up(self, poll_s: float) -> None:
        self.urls = self.run("up", VOLCLONE_JOBBOARD_POLL_S=str(poll_s)).stdout.strip().splitlines()[-2:]
        self.poll_s = poll_s

    @property
    def settings(self) -> dict[str, str]:
        lines = (self.dir / "env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))

    @property
    def token(self) -> str:
        return (self.dir / "admin-token").read_text().strip()

    @property
    def database(self) -> str:
        return self.settings["VOLCLONE_DATABASE_URL"].replace("+psycopg", "")

    def pid(self, name: str) -> int | None:
        try:
            pid = int((self.dir / "run" / f"{name}.pid").read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if f"{self.dir}/{name}".encode() in cmdline else None

    def running(self) -> list[str]:
        return [w for w in RBD_WORKERS if self.pid(w) is not None]

    def stop(self, names: list[str]) -> None:
        pids = [p for p in (self.pid(n) for n in names) if p is not None]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while any(Path(f"/proc/{p}").exists() for p in pids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"workers {names} did not stop within 60 s")
            time.sleep(0.1)

    def workers(self, n: int, poll_s: float) -> None:
        """Exactly the first ``n`` rbd workers run, with board poll period ``poll_s``."""
        want = list(RBD_WORKERS[:n])
        if self.poll_s != poll_s:
            self.stop(list(RBD_WORKERS))
        if self.poll_s != poll_s or any(w not in self.running() for w in want):
            self.up(poll_s)  # starts what is missing (all of them after the stop above)
        self.stop([w for w in RBD_WORKERS if w not in want])
        assert self.running() == want, (self.running(), want)


@contextlib.contextmanager
def cluster(existing: Path | None) -> Iterator[Cluster]:
    if existing is not None:  # one made with VOLCLONE_CLUSTER_RBD_WORKERS=3 and no quotas; left running
        c = Cluster(existing)
        c.up(0.5)
        yield c
        return
    with tempfile.TemporaryDirectory(prefix="volclone-bench-cluster-", dir="/var/tmp") as tmp:
        c = Cluster(Path(tmp) / "c")
        try:
            c.up(0.5)
            yield c
        finally:
            if (c.dir / "env").exists():
                with contextlib.suppress(Exception):
                    c.run("down")


# -- HTTP ----------------------------------------------------------------------------------------
class Http:
    """One client per API process; every answer's status (or exception name) is counted."""

    def __init__(self, c: Cluster, connections: int = 100) -> None:
        headers = {"X-Auth-Token": c.token}
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.clients = [httpx.AsyncClient(base_url=f"{u}/v3/{PROJECT}", headers=headers, timeout=60, limits=limits)
                        for u in c.urls]
        self.statuses: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []  # each exception: when, after how long, what

    async def call(self, i: int, method: str, url: str, **kw: Any) -> httpx.Response | None:
        sent = time.time()
        try:
            r = await self.clients[i % len(self.clients)].request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.statuses[type(exc).__name__] += 1
            self.errors.append({"at": round(sent, 3), "after_s": round(time.time() - sent, 3), "api": i % 2,
                                "request": f"{method} {url}", "error": repr(exc)[:200]})
            return None
        self.statuses[str(r.status_code)] += 1
        return r

    def take(self) -> dict[str, int]:
        out = dict(sorted(self.statuses.items()))
        self.statuses.clear()
        return out

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()


async def make_sources(http: Http, c: Cluster, count: int) -> list[str]:
    """``count`` volumes of backend ceph, available, with a few MiB written in each."""
    import rados

    import rbd

    r = await http.call(0, "POST", "/types", json={"volume_type": {
        "name": "ceph", "extra_specs": {"volume_backend_name": "ceph"}}})
    assert r is not None and r.status_code == 200, r and r.text
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        async with gate:
            r = await http.call(i, "POST", "/volumes", json={"volume": {"size": SIZE_GIB, "volume_type": "ceph",
                                                                         "name": f"src-{i}"}})
            assert r is not None and r.status_code == 202, r and r.text
            vid = str(r.json()["volume"]["id"])
            while True:
                r = await http.call(i, "GET", f"/volumes/{vid}")
                assert r is not None and r.status_code == 200
                status = r.json()["volume"]["status"]
                if status != "creating":
                    assert status == "available", status
                    return vid
                await asyncio.sleep(0.2)

    ids = list(await asyncio.gather(*(one(i) for i in range(count))))
    cl = rados.Rados(conffile=c.settings["CEPH_CONF"])
    cl.connect(timeout=30)
    try:
        with cl.open_ioctx("rbd") as io:
            for vid in ids:
                with rbd.Image(io, f"volume-{vid}") as image:
                    for k in range(EXTENTS):
                        image.write(os.urandom(EXTENT), k * (SIZE_GIB * GIB // EXTENTS))
    finally:
        cl.shutdown()
    return ids


async def delete_volumes(http: Http, ids: list[str]) -> None:
    gate = asyncio.Semaphore(4)

    async def one(i: int, vid: str) -> None:
        async with gate:
            r = await http.call(i, "DELETE", f"/volumes/{vid}")
            assert r is not None and r.status_code in (202, 404), r and r.text

    await asyncio.gather(*(one(i, v) for i, v in enumerate(ids)))
    deadline = time.monotonic() + 120
    for i, vid in enumerate(ids):  # untimed: wait until they are gone, so the next case starts clean
        while True:
            r = await http.call(i, "GET", f"/volumes/{vid}")
            if r is None or r.status_code == 404 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)


class Clone:
    """One clone-volumes request, POST to its end as its client sees it (polling get_progress)."""

    def __init__(self, index: int, volumes: list[str]) -> None:
        self.index, self.volumes = index, volumes
        self.sent = self.seen_end = 0.0
        self.task_id = ""
        self.state = "NOT POSTED"
        self.clones: list[str] = []

    async def run(self, http: Http, poll: float, timeout: float = 600) -> Clone:
        self.sent = time.time()
        r = await http.call(self.index, "POST", "/clone-volumes", json={"clone-volumes": {
            "volumes": self.volumes, "display-name": f"bench-{self.index}"}})
        if r is None or r.status_code != 200:
            self.state = f"POST {r.status_code if r is not None else 'failed'}"
            return self
        uri = r.json()["clone-volumes"]["task_uri"]
        self.task_id = uri.rsplit("task_id=", 1)[1]
        self.state = "POSTED"
        while time.time() - self.sent < timeout:
            await asyncio.sleep(poll)
            r = await http.call(self.index, "GET", uri)
            if r is None or r.status_code != 200:
                continue
            p = r.json()
            self.state = p["flow_details"]["cloneFlow"]
            if self.state in ENDED:
                self.seen_end = time.time()
                self.clones = [str(v) for v in p["details"]["results"].values()]
                break
        return self


def flow_ends(c: Cluster, task_ids: list[str]) -> dict[str, tuple[str, float]]:
    """task id -> (flow id, the flow's end as persisted, epoch seconds)."""
    with psycopg.connect(c.database) as con:
        rows = con.execute("SELECT t.id, t.flow_id, f.state, f.updated_at FROM clone_tasks t "
                           "JOIN flowdetails f ON f.uuid = t.flow_id WHERE t.id = ANY(%s)", (task_ids,)).fetchall()
    return {tid: (fid, upd.replace(tzinfo=dt.UTC).timestamp()) for tid, fid, state, upd in rows if state in ENDED}


def log_times(c: Cluster, pattern: re.Pattern[str], names: list[str]) -> dict[str, tuple[float, re.Match[str]]]:
    """The first line per flow id matching ``pattern`` in the logs of ``names``: flow -> (time, match)."""
    found: dict[str, tuple[float, re.Match[str]]] = {}
    for name in names:
        with contextlib.suppress(FileNotFoundError), open(c.dir / "log" / f"{name}.log", errors="replace") as f:
            for line in f:
                m, t = pattern.search(line), LOG_TIME.match(line)
                if m and t:
                    flow = m.group(1) if pattern is POSTED else m.group(2)
                    when = dt.datetime.strptime(t.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                    if flow not in found or when < found[flow][0]:
                        found[flow] = (when, m)
    return found


def handoffs(c: Cluster, flows: list[str]) -> tuple[list[float], Counter[str]]:
    """Post -> claim in seconds for each of ``flows``, and which worker claimed how many."""
    posted = log_times(c, POSTED, ["api1", "api2"])
    runs = log_times(c, RUNS, [*RBD_WORKERS, "w3"])
    out: list[float] = []
    by: Counter[str] = Counter()
    for f in flows:
        if f in posted and f in runs:
            out.append(runs[f][0] - posted[f][0])
            by[runs[f][1].group(1).split(".")[0]] += 1
    return out, by


# -- the cases -------------------------------------------------------------------------------------
async def throughput(c: Cluster, http: Http, sources: list[list[str]], client_poll: float) -> dict[str, Any]:
    before = load()
    clones = [Clone(i, vols) for i, vols in enumerate(sources)]
    await asyncio.gather(*(x.run(http, client_poll) for x in clones))
    statuses = http.take()
    ends = flow_ends(c, [x.task_id for x in clones if x.task_id])
    done = [x for x in clones if x.state == "SUCCESS" and x.task_id in ends]
    start = min(x.sent for x in clones)
    wall = max(ends[x.task_id][1] for x in done) - start if done else float("nan")
    latency = [ends[x.task_id][1] - x.sent for x in done]
    seen = [x.seen_end - x.sent for x in done]
    handoff, by = handoffs(c, [ends[x.task_id][0] for x in done])
    volumes = sum(len(x.volumes) for x in done)
    await delete_volumes(http, [v for x in clones for v in x.clones])
    http.take()
    return {"requests": len(clones), "succeeded": len(done), "lost_or_failed": len(clones) - len(done),
            "states": dict(Counter(x.state for x in clones)),
            "wall_s": round(wall, 3), "requests_per_s": round(len(done) / wall, 3),
            "volumes_per_s": round(volumes / wall, 3),
            "latency_post_to_flow_end": dist(latency), "latency_as_client_saw_it": dist(seen),
            "handoff_post_to_claim_under_load": dist(handoff), "flows_per_worker": dict(sorted(by.items())),
            "http_statuses": statuses, "load_before": before, "load_after": load()}


async def idle_handoff(c: Cluster, http: Http, sources: list[list[str]], count: int) -> dict[str, Any]:
    """One request at a time (1 volume), a random 0-1 s gap after each ends: the claim waits only
    for the conductors' poll."""
    before = load()
    flows, made = [], []
    for i in range(count):
        x = await Clone(i, sources[i % len(sources)][:1]).run(http, 0.1)
        made += x.clones
        if x.state == "SUCCESS":
            flows.append(x.task_id)
        await asyncio.sleep(random.uniform(0, 1))
    statuses = http.take()
    ends = flow_ends(c, flows)
    handoff, by = handoffs(c, [ends[t][0] for t in flows if t in ends])
    await delete_volumes(http, made)
    http.take()
    return {"requests": count, "succeeded": len(flows), "handoff_post_to_claim": dist(handoff),
            "flows_per_worker": dict(sorted(by.items())), "http_statuses": statuses,
            "load_before": before, "load_after": load()}


async def progress_load(c: Cluster, http: Http, sources: list[list[str]], rate: float, duration: float,
                        in_flight: int, connections: int) -> dict[str, Any]:
    """get_progress at a fixed arrival rate over both APIs while ``in_flight`` clones run.

    Open loop: request i is due at ``i / rate`` s whatever happened to the ones before; it waits
    in a queue of its API until one of ``connections`` keep-alive connections to that API is free
    (a closed loop would slow down with the server and hide its queueing). Latency counts from
    the due time. (httpx's own pool, left to queue thousands of requests, spends quadratic CPU
    in the client; hence the bounded connections.)"""
    tasks: list[str] = []
    made: list[str] = []
    stop = asyncio.Event()

    async def keep_cloning(k: int) -> None:
        i = k
        while not stop.is_set():
            x = Clone(i, sources[i % len(sources)])
            runner = asyncio.create_task(x.run(http, 0.5))
            while not x.task_id and not runner.done():
                await asyncio.sleep(0.01)
            if not x.task_id:
                raise RuntimeError(f"a clone request during the get_progress load failed: {x.state}")
            tasks.append(x.task_id)
            await runner
            made.extend(x.clones)
            i += in_flight

    cloners = [asyncio.create_task(keep_cloning(k)) for k in range(in_flight)]
    while len(tasks) < in_flight:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    load_http = Http(c, connections)
    queues: list[asyncio.Queue[tuple[int, float] | None]] = [asyncio.Queue() for _ in load_http.clients]
    results: list[tuple[float, float, float, str]] = []  # due, sent, answered, status

    async def consume(q: asyncio.Queue[tuple[int, float] | None]) -> None:
        while (item := await q.get()) is not None:
            i, due = item
            sent = time.perf_counter()
            tid = tasks[-1 - i % min(len(tasks), 10)] if i % 2 else random.choice(tasks)  # running and ended
            r = await load_http.call(i, "GET", "/clone-volumes/get_progress",
                                     params={"action": "clone-volumes", "task_id": tid})
            results.append((due, sent, time.perf_counter(), str(r.status_code) if r is not None else "error"))

    consumers = [asyncio.create_task(consume(q)) for q in queues for _ in range(connections)]
    before, cpu0 = load(), time.process_time()
    n = int(rate * duration)
    t0 = time.perf_counter() + 0.1
    for i in range(n):
        due = t0 + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        queues[i % len(queues)].put_nowait((i, due))
    for q in queues:
        for _ in range(connections):
            q.put_nowait(None)
    await asyncio.gather(*consumers)
    elapsed = max(r[2] for r in results) - t0
    cpu = time.process_time() - cpu0
    after = load()
    statuses = load_http.take()
    await load_http.close()
    stop.set()
    await asyncio.gather(*cloners)
    cloner_statuses = http.take()
    await delete_volumes(http, made)
    http.take()
    ok = [r for r in results if r[3] == "200"]
    return {"rate_target_per_s": rate, "duration_s": duration, "requests": n, "answered": len(results),
            "ok": len(ok), "achieved_per_s": round(len(results) / elapsed, 1),
            "last_answer_after_s": round(elapsed, 2), "connections_per_api": connections,
            "latency_from_due_time": dist([(r[2] - r[0]) * 1000 for r in ok], "ms", 1),
            "latency_from_send": dist([(r[2] - r[1]) * 1000 for r in ok], "ms", 1),
            "http_statuses": statuses, "errors": load_http.errors,
            "load_started_at": round(time.time() - (time.perf_counter() - t0), 3),
            "clones_in_flight": in_flight, "clone_requests_made": len(tasks),
            "clone_client_statuses": cloner_statuses,
            "bench_client_cpu_s": round(cpu, 2), "load_before": before, "load_after": after}


async def run(c: Cluster, args: argparse.Namespace) -> dict[str, Any]:
    http = Http(c)
    try:
        flat = await make_sources(http, c, args.requests * args.volumes)
        http.take()
        sources = [flat[i * args.volumes:(i + 1) * args.volumes] for i in range(args.requests)]
        print(f"{len(flat)} source volumes of {SIZE_GIB} GiB, {EXTENTS * EXTENT // MIB} MiB written in each")
        out: dict[str, Any] = {"throughput": [], "handoff_idle": [], "get_progress": []}
        for poll in args.poll_periods if not args.only_progress else ():
            for n in (3, 2, 1):
                c.workers(n, poll)
                await asyncio.sleep(2)  # the restarted workers' first passes
                if n == 2:
                    c_ = await idle_handoff(c, http, sources, args.handoffs)
                    out["handoff_idle"].append({"poll_s": poll, "rbd_workers": n, **c_})
                    print(f"poll {poll} s, {n} workers, idle hand-off: {c_['handoff_post_to_claim']}")
                    for rate in args.rates if poll == args.poll_periods[0] else ():
                        g = await progress_load(c, http, sources, rate, args.duration, args.in_flight,
                                                args.connections)
                        out["get_progress"].append({"poll_s": poll, "rbd_workers": n, **g})
                        print(f"get_progress at {rate}/s: {g['latency_from_due_time']}, "
                              f"{g['achieved_per_s']}/s, {g['http_statuses']}, load {g['load_before']} -> "
                              f"{g['load_after']}")
                for r in range(args.rounds):
                    t = await throughput(c, http, sources, args.client_poll)
                    out["throughput"].append({"poll_s": poll, "rbd_workers": n, "round": r + 1, **t})
                    print(f"poll {poll} s, {n} workers: {t['requests_per_s']} req/s, {t['volumes_per_s']} vol/s, "
                          f"wall {t['wall_s']} s, p50 {t['latency_post_to_flow_end'].get('p50_s')} s, "
                          f"p99 {t['latency_post_to_flow_end'].get('p99_s')} s, lost {t['lost_or_failed']}, "
                          f"{t['http_statuses']}, load {t['load_before']} -> {t['load_after']}")
        if args.only_progress:
            c.workers(2, args.poll_periods[0])
            for rate in args.rates:
                g = await progress_load(c, http, sources, rate, args.duration, args.in_flight, args.connections)
                out["get_progress"].append({"poll_s": args.poll_periods[0], "rbd_workers": 2, **g})
                print(f"get_progress at {rate}/s: {g['latency_from_due_time']}, {g['achieved_per_s']}/s, "
                      f"{g['http_statuses']}, {g['errors']}")
        return out
    finally:
        await http.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20, help="clone-volumes requests at once")
    ap.add_argument("--volumes", type=int, default=5, help="volumes per request (each request its own)")
    ap.add_argument("--rounds", type=int, default=1, help="throughput runs per worker count")
    ap.add_argument("--client-poll", type=float, default=0.25, help="s between a client's get_progress polls")
    ap.add_argument("--poll-periods", type=lambda s: [float(x) for x in s.split(",")], default=[0.5, 0.1],
                    help="VOLCLONE_JOBBOARD_POLL_S values to measure")
    ap.add_argument("--handoffs", type=int, default=40, help="idle hand-offs measured per poll period")
    ap.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",") if float(x) > 0], default=[200, 50],
                    help="get_progress arrival rates, requests/s (0: none)")
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--connections", type=int, default=32, help="keep-alive connections per API for the load")
    ap.add_argument("--only-progress", action="store_true", help="part 3 only (2 rbd workers)")
    ap.add_argument("--in-flight", type=int, default=2, help="clone requests running during the get_progress load")
    ap.add_argument("--dir", type=Path, help="an existing cluster-dev cluster (default: a throwaway one)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cluster.json")
    args = ap.parse_args()
    load_start = load()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with cluster(args.dir) as c:
        cases = asyncio.run(run(c, args))
    result = {
        "benchmark": "cluster", "when": started,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_at_start": load_start,
                    "load_average_at_end": load(), "shared": "the machine may run other work: see the load averages",
                    "ceph": subprocess.run(["ceph", "--version"], capture_output=True, text=True).stdout.strip()},
        "workload": {"requests": args.requests, "volumes_per_request": args.volumes, "size_gib": SIZE_GIB,
                     "written_mib_each": EXTENTS * EXTENT // MIB,
                     "clone": "the rbd driver's (deep copy on Ceph 16, COW clone from 19)",
                     "cluster": "scripts/cluster-dev: 2 APIs, rbd workers w1 w2 w4 (fewer: stopped), w3 local; "
                                "private Redis, PostgreSQL, RabbitMQ vhost, 1 mon + 1 OSD Ceph on a sparse file",
                     "flow_workers_per_worker": 4, "client_poll_s": args.client_poll},
        **cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
