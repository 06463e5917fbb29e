"""Round trip of one backend call from the API role to a worker, through RabbitMQ.

A worker process (``RpcServer`` in front of a ``MemoryDriver``, so the driver costs nothing)
serves a backend of a fresh name; this process calls ``volume_exists`` through an ``RpcClient``
proxy, ``--calls`` times one after the other, then ``--calls`` times from ``--callers`` threads
at once. Reports p50, p99, mean and max per call, and calls per second. Writes
bench/results/rpc_roundtrip.json.

    .venv/bin/python bench/rpc_roundtrip.py [--calls 2000] [--callers 8] [--url amqp://...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import threading
import time
import uuid
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import kombu

from volclone.backends.memory import MemoryDriver
from volclone.cluster.rpc import RpcClient, RpcServer, topic

WARMUP = 50


def worker(url: str, backend: str, ready: Event, done: Event) -> None:
    driver = MemoryDriver(backend)
    driver.create_volume("v", 1)
    server = RpcServer(url, "bench-worker", "localhost", {backend: driver})
    server.start()
    ready.set()
    done.wait()
    server.stop()


def run(client: RpcClient, backend: str, calls: int, callers: int) -> dict[str, Any]:
    proxy = client.driver(backend, MemoryDriver)
    per_thread = [calls // callers + (1 if i < calls % callers else 0) for i in range(callers)]
    times: list[list[float]] = [[] for _ in range(callers)]
    start = threading.Barrier(callers + 1)

    def call(i: int) -> None:
        start.wait()
        out = times[i]
        for _ in range(per_thread[i]):
            t0 = time.perf_counter()
            assert proxy.volume_exists("v")
            out.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for t in threads:
        t.start()
    start.wait()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    flat = sorted(x * 1000 for row in times for x in row)
    return {"callers": callers, "calls": len(flat),
            "p50_ms": round(statistics.median(flat), 3),
            "p99_ms": round(flat[min(len(flat) - 1, int(len(flat) * 0.99))], 3),
            "mean_ms": round(statistics.fmean(flat), 3), "max_ms": round(flat[-1], 3),
            "calls_per_s": round(len(flat) / wall, 1),
            "caller_cpu_ms_per_call": round(cpu * 1000 / len(flat), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--callers", type=int, default=8)
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rpc_roundtrip.json")
    args = ap.parse_args()
    load_before = os.getloadavg()  # the machine is shared: say how busy it was
    backend = f"bench-{uuid.uuid4().hex[:12]}"
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=worker, args=(args.url, backend, ready, done))
    proc.start()
    cases = []
    try:
        if not ready.wait(60):
            raise RuntimeError("the worker did not start")
        client = RpcClient(args.url, timeout=10)
        try:
            run(client, backend, WARMUP, 1)
            for callers in (1, args.callers):
                case = run(client, backend, args.calls, callers)
                cases.append(case)
                print(f"{callers} caller(s): p50 {case['p50_ms']:.2f} ms, p99 {case['p99_ms']:.2f} ms, "
                      f"mean {case['mean_ms']:.2f} ms, {case['calls_per_s']:.0f} calls/s")
        finally:
            client.close()
    finally:
        done.set()
        proc.join(30)
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        total_calls = WARMUP + sum(c["calls"] for c in cases)
        worker_cpu_ms_per_call = round((child.ru_utime + child.ru_stime) * 1000 / total_calls, 3)
        with contextlib.suppress(Exception), kombu.Connection(args.url) as conn:
            channel = conn.channel()
            for queue in (topic(backend), f"{topic(backend)}.bench-worker"):
                channel.queue_delete(queue)
    result = {
        "benchmark": "rpc_roundtrip", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
                    "python": platform.python_version(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "call": "volume_exists through RpcClient -> RabbitMQ -> RpcServer (another process) -> MemoryDriver",
        "cases": cases,
        # All of the worker process's CPU (start-up included) over every call it answered.
        "worker_cpu_ms_per_call": worker_cpu_ms_per_call,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(cases, indent=2))


if __name__ == "__main__":
    main()
