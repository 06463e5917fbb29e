"""What open get_progress event streams cost the server's other requests: the latency of plain
get_progress GETs with no stream open, then with N streams open, each on a task of its own that
has not ended (each stream reads its task every 0.5 s, the default), in one event loop as uvicorn
runs them.

In process: the real app (``create_app``) over the real service and a SQLite database (or
PostgreSQL with ``--pg``), on the memory driver; the tasks are held in their clone step (those
past the 4 flow workers wait PENDING) so the streams stay open. httpx's ASGI transport carries
the requests (no sockets). Medians and p95 of sequential GETs. Writes bench/results/event_streams.json.

    .venv/bin/python bench/event_streams.py [--streams 32] [--requests 200] [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from volclone import bootstrap
from volclone.api import create_app
from volclone.api.event_stream import StreamOptions
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.domain import CloneRequest, Principal
from volclone.service.auth import MEMBER_ROLES


async def _latencies(client: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str],
                     requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = await client.get("/v3/p1/clone-volumes/get_progress", params=params, headers=headers)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2)}


def measure(url: str, data_dir: Path, streams: int, requests: int) -> dict[str, Any]:
    settings = Settings(data_dir=data_dir, database_url=url, quota_volumes=-1, quota_gigabytes=-1,
                        quota_snapshots=-1)
    mem = MemoryDriver("local")
    svc = bootstrap.build(settings, drivers={"local": mem})
    svc.start()
    gate = threading.Event()
    try:
        who = Principal("p1", roles=MEMBER_ROLES)
        tasks = []
        for i in range(streams):
            vols = [svc.volumes.create(who, "p1", 1, name=f"v{i}-{j}") for j in range(2)]
            mem.inject("clone_from_group_snapshot", lambda: gate.wait(600))
            tasks.append(svc.clones.start(who, CloneRequest("p1", [v.id for v in vols])))
        app = create_app(svc, manage_lifecycle=False, event_streams=StreamOptions(max_streams=streams))
        headers = {"X-Auth-Token": svc.auth.create_token("p1", MEMBER_ROLES)}
        params = {"action": "clone-volumes", "task_id": tasks[0]}

        async def run() -> dict[str, Any]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as client:
                await _latencies(client, params, headers, 20)  # warm up
                alone = await _latencies(client, params, headers, requests)
                opened = [asyncio.create_task(client.get("/v3/p1/clone-volumes/get_progress",
                                                         params={**params, "task_id": task},
                                                         headers={**headers, "Accept": "text/event-stream"}))
                          for task in tasks]
                await asyncio.sleep(1.0)  # every stream has started and reads every 0.5 s
                assert app.state.stream_slots.open == streams, app.state.stream_slots.open
                beside = await _latencies(client, params, headers, requests)
                gate.set()  # the flow ends, and so does every stream
                ended = await asyncio.gather(*opened)
                assert all(r.status_code == 200 and b"event: end" in r.content for r in ended)
                return {"no_stream": _summary(alone), f"{streams}_streams": _summary(beside)}

        results: dict[str, Any] = asyncio.run(run())
        return results
    finally:
        gate.set()
        svc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", help="a PostgreSQL server to measure on too (a throwaway database is made)")
    args = parser.parse_args()
    results: dict[str, Any] = {"streams": args.streams, "requests": args.requests, "poll_s": StreamOptions.poll_s,
                               "python": platform.python_version(), "cpus": len(__import__("os").sched_getaffinity(0))}
    with tempfile.TemporaryDirectory(prefix="volclone-bench-") as tmp:
        results["sqlite"] = measure("", Path(tmp), args.streams, args.requests)
    if args.pg:
        name = f"volclone_bench_{secrets.token_hex(4)}"
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
            with tempfile.TemporaryDirectory(prefix="volclone-bench-") as tmp:
                bootstrap.upgrade_database(Settings(database_url=url))
                results["postgresql"] = measure(url, Path(tmp), args.streams, args.requests)
        finally:
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = Path(__file__).parent / "results" / "event_streams.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
