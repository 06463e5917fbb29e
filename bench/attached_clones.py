"""Clones of attached volumes under write load: POST clone-volumes → SUCCESS for 1, 10 and 50
volumes, and how long the writers stall while a clone runs.

Every volume (1 GiB) is attached read-write through the attachments API and written over its
NBD export by ``--writers`` processes (separate processes, like VMs: no shared GIL), each
looping over its share of the volumes: a 4 KiB write at a random 4 KiB-aligned offset in the
first 256 MiB, then the next volume; every ``--flush-every``-th write of a writer is followed by
a flush (1, the default: every write is flushed, the crash-consistency test's pattern; 16: a
guest that flushes now and then, whose dirty data the snapshot's flush must write). Every op
(write, or write+flush) is timed with
``time.perf_counter`` (CLOCK_MONOTONIC, the same clock in every process), so each op can be
placed against the clone windows [POST, SUCCESS]:

* ``stall_max_ms`` / ``stall_p99_ms``: the longest and the 99th-percentile write+flush among the
  ops that overlap a clone window, over every clone of a case;
* ``baseline_*``: the same for ops at least 0.2 s away from every clone window (what the
  machine does anyway), so the clone's own share shows;
* ``io_freeze_ms``: how long the daemon's snapshot transaction took, as the server reports it.

``bare`` repeats the same load on a bare qemu-storage-daemon (no volclone): overlays made and
added beforehand, then only the one QMP ``transaction`` timed, and the ops overlapping it --
the part of the stall the consistency point itself costs, apart from the rest of the flow.

Target (issue 3): longest stall <= 20 ms at 50 volumes. Writes bench/results/attached_clones.json
(attached_clones_flushN.json with ``--flush-every N``).

    .venv/bin/python bench/attached_clones.py [--repeat 5] [--writers 4] [--flush-every 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import random
import socket
import statistics
import subprocess
import tempfile
import time
from array import array
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx

from _server import MV, attach, clone_and_wait, server

COUNTS = (1, 10, 50)
WRITE = 4096
SPAN = 256 * 1024 * 1024
#: Ops this close to a clone window count neither as stalls of it nor as baseline.
MARGIN_S = 0.2


def writer(uris: list[str], stop: Event, out: Connection, flush_every: int = 1) -> None:
    """One writer process: write each of its volumes in turn until told to stop, flushing
    after every ``flush_every``-th write; sends back (start, end) of every op as two arrays
    of perf_counter seconds."""
    import nbd

    handles = []
    for uri in uris:
        h = nbd.NBD()
        h.connect_uri(uri)
        handles.append(h)
    rng = random.Random(os.getpid())
    buf = os.urandom(WRITE)
    starts, ends = array("d"), array("d")
    error = None
    writes = 0
    try:
        while not stop.is_set():
            for h in handles:
                off = rng.randrange(SPAN // WRITE) * WRITE
                t0 = time.perf_counter()
                h.pwrite(buf, off)
                writes += 1
                if writes % flush_every == 0:
                    h.flush()
                starts.append(t0)
                ends.append(time.perf_counter())
    except Exception as exc:  # reported to the parent
        error = repr(exc)
    for h in handles:
        h.shutdown()
    out.send((starts.tobytes(), ends.tobytes(), error))
    out.close()


def clone_once(http: httpx.Client, ids: list[str]) -> tuple[float, float, float]:
    """(POST time, SUCCESS time, io_freeze_ms); times in perf_counter seconds."""
    t0, t1, p = clone_and_wait(http, ids)
    return t0, t1, float(p["details"]["io_freeze_ms"])


def log_events(log: Path, since: float, until: float, wall_offset: float) -> list[tuple[float, str]]:
    """Server log lines (timestamped, wall clock) between two perf_counter times, as
    (seconds after ``since``, message): where the clone's phases fell."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            when = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        t = when.timestamp() - wall_offset
        if since - 0.01 <= t <= until + 0.01:
            out.append((round(t - since, 3), line[24:].split(": ", 1)[-1][:120]))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def start_writers(uris: list[str], writers: int, flush_every: int = 1) -> tuple[Event, list[Any], list[Connection]]:
    n = min(writers, len(uris))
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    procs, pipes = [], []
    for i in range(n):
        rx, tx = ctx.Pipe(duplex=False)
        p = ctx.Process(target=writer, args=(uris[i::n], stop, tx, flush_every))
        p.start()
        procs.append(p)
        pipes.append(rx)
    return stop, procs, pipes


def stop_writers(stop: Event, procs: list[Any], pipes: list[Connection]) -> list[tuple[float, float]]:
    """Stop the writers; every op's (start, end). Raises if a writer's I/O failed."""
    stop.set()
    results = [rx.recv() for rx in pipes]
    for p in procs:
        p.join(30)
    errors = [e for _, _, e in results if e]
    if errors:
        raise RuntimeError(f"writer I/O failed: {errors}")
    ops: list[tuple[float, float]] = []
    for s, e, _ in results:
        starts, ends = array("d"), array("d")
        starts.frombytes(s)
        ends.frombytes(e)
        ops.extend(zip(starts, ends, strict=False))
    return ops


def overlapping(ops: list[tuple[float, float]], t0: float, t1: float) -> list[float]:
    """Latencies (ms) of the ops that overlap [t0, t1]."""
    return [(e - s) * 1000 for s, e in ops if e >= t0 and s <= t1]


def bare_case(count: int, repeat: int, writers: int, gap_s: float, flush_every: int) -> dict[str, Any]:
    """The consistency point alone, on a bare daemon under the same load: see the module doc."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    with tempfile.TemporaryDirectory(prefix="volclone-bench-qsd-") as tmp:
        d = Path(tmp)
        sock = d / "qmp.sock"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        qsd = subprocess.Popen(["qemu-storage-daemon", "--chardev", f"socket,id=q,path={sock},server=on,wait=off",
                                "--monitor", "chardev=q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            qmp = QEMUMonitorProtocol(str(sock))
            qmp.connect()

            def add(node: str, backing: str | None = None) -> None:
                file = d / f"{node}.qcow2"
                cmd = ["qemu-img", "create", "-q", "-f", "qcow2", str(file), "1G"]
                if backing:
                    cmd[5:5] = ["-u", "-b", f"{backing}.qcow2", "-F", "qcow2"]
                subprocess.run(cmd, check=True)
                qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": node},
                        file={"driver": "file", "filename": str(file)}, **({"backing": None} if backing else {}))

            tops = [f"v{i}-0" for i in range(count)]
            for node in tops:
                add(node)
            qmp.cmd("nbd-server-start", addr={"type": "inet", "data": {"host": "127.0.0.1", "port": str(port)}})
            for i, node in enumerate(tops):
                qmp.cmd("block-export-add", type="nbd", id=f"e{i}", name=f"e{i}", **{"node-name": node},
                        writable=True)
            stop, procs, pipes = start_writers([f"nbd://127.0.0.1:{port}/e{i}" for i in range(count)], writers,
                                               flush_every)
            windows = []
            try:
                time.sleep(gap_s)
                for r in range(1, repeat + 1):
                    overlays = [f"v{i}-{r}" for i in range(count)]
                    for top, ov in zip(tops, overlays, strict=False):
                        add(ov, backing=top)
                    time.sleep(gap_s)
                    t0 = time.perf_counter()
                    qmp.cmd("transaction", actions=[
                        {"type": "blockdev-snapshot", "data": {"node": top, "overlay": ov}}
                        for top, ov in zip(tops, overlays, strict=False)])
                    windows.append((t0, time.perf_counter()))
                    tops = overlays
                time.sleep(gap_s / 2)
            finally:
                ops = stop_writers(stop, procs, pipes)
                qmp.close()
        finally:
            qsd.terminate()
            qsd.wait(30)
    during = [x for t0, t1 in windows for x in overlapping(ops, t0, t1)]
    return {"volumes": count, "transactions": repeat,
            "transaction_ms": [round((t1 - t0) * 1000, 3) for t0, t1 in windows],
            "stall_max_ms": max(during, default=0.0), "stall_p99_ms": pct(during, 0.99),
            "ops_during_transactions": len(during)}


def run_case(http: httpx.Client, log: Path, count: int, repeat: int, writers: int,
             gap_s: float, flush_every: int) -> dict[str, Any]:
    ids = [http.post("/volumes", json={"volume": {"size": 1}}).json()["volume"]["id"] for _ in range(count)]
    attached = [attach(http, v) for v in ids]
    uris = [u for _, u in attached]
    n_writers = min(writers, count)
    stop, procs, pipes = start_writers(uris, writers, flush_every)
    windows = []
    try:
        time.sleep(gap_s * 2)  # warm up: every writer connected and going
        for _ in range(repeat):
            windows.append(clone_once(http, ids))
            time.sleep(gap_s)
    finally:
        ops = stop_writers(stop, procs, pipes)
    during, per_clone, baseline, timelines = [], [], [], []
    wall_offset = time.time() - time.perf_counter()
    for t0, t1, _ in windows:
        lat = overlapping(ops, t0, t1)
        per_clone.append(max(lat, default=0.0))
        during.extend(lat)
        slowest = sorted(((e - s, s) for s, e in ops if e >= t0 and s <= t1), reverse=True)[:5]
        timelines.append({"total_s": round(t1 - t0, 3),
                          "slowest_ops": [{"start_s": round(s - t0, 3), "ms": round(d * 1000, 1)} for d, s in slowest],
                          "server_log": log_events(log, t0, t1, wall_offset)})
    for s, e in ops:
        if all(e < t0 - MARGIN_S or s > t1 + MARGIN_S for t0, t1, _ in windows):
            baseline.append((e - s) * 1000)
    span = max(e for _, e in ops) - min(s for s, _ in ops)
    lat_s = [t1 - t0 for t0, t1, _ in windows]
    for aid, _ in attached:
        http.delete(f"/attachments/{aid}", headers=MV).raise_for_status()
    return {
        "volumes": count, "writer_processes": n_writers, "clones": repeat,
        "latency_median_s": statistics.median(lat_s), "latency_min_s": min(lat_s), "latency_max_s": max(lat_s),
        "latency_runs_s": lat_s,
        "io_freeze_ms": [f for _, _, f in windows], "io_freeze_max_ms": max(f for _, _, f in windows),
        "stall_max_ms": max(per_clone), "stall_max_per_clone_ms": per_clone, "stall_p99_ms": pct(during, 0.99),
        "ops_during_clones": len(during),
        "baseline_max_ms": max(baseline, default=float("nan")), "baseline_p99_ms": pct(baseline, 0.99),
        "baseline_median_ms": pct(baseline, 0.5), "baseline_ops": len(baseline),
        "ops_per_s": len(ops) / span,
        "timelines": timelines,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5, help="clones per case (chains stay under the flatten bound)")
    ap.add_argument("--writers", type=int, default=4, help="writer processes (each loops over its volumes)")
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between clones (baseline time)")
    ap.add_argument("--counts", type=int, nargs="*", default=list(COUNTS))
    ap.add_argument("--flush-every", type=int, default=1, help="a flush after every N-th write of a writer")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare-daemon comparison")
    ap.add_argument("--out", type=Path, help="default: results/attached_clones[_flushN].json")
    args = ap.parse_args()
    suffix = "" if args.flush_every == 1 else f"_flush{args.flush_every}"
    args.out = args.out or Path(__file__).parent / "results" / f"attached_clones{suffix}.json"
    load_before = os.getloadavg()
    cases = []
    with server(VOLCLONE_MAX_CLONE_VOLUMES="100") as (url, token, data):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=120)
        for count in args.counts:
            c = run_case(http, data / "serve.log", count, args.repeat, args.writers, args.gap, args.flush_every)
            cases.append(c)
            print(f"{count:3d} attached volumes: clone median {c['latency_median_s'] * 1000:7.1f} ms, "
                  f"stall max {c['stall_max_ms']:6.1f} ms p99 {c['stall_p99_ms']:6.1f} ms "
                  f"(baseline max {c['baseline_max_ms']:6.1f} p99 {c['baseline_p99_ms']:5.1f}), "
                  f"io_freeze max {c['io_freeze_max_ms']:6.1f} ms, {c['ops_per_s']:.0f} ops/s")
        paused = [line.split("paused ")[-1] for line in (data / "serve.log").read_text().splitlines()
                  if "I/O paused" in line]
    bare = []
    if not args.no_bare:
        for count in args.counts:
            b = bare_case(count, args.repeat, args.writers, args.gap, args.flush_every)
            bare.append(b)
            print(f"{count:3d} volumes, bare daemon: transaction max {max(b['transaction_ms']):6.1f} ms, "
                  f"stall max {b['stall_max_ms']:6.1f} ms p99 {b['stall_p99_ms']:6.1f} ms")
    by = {c["volumes"]: c for c in cases}
    summary = {
        "latency_median_s": {str(n): by[n]["latency_median_s"] for n in by},
        "stall_max_ms": {str(n): by[n]["stall_max_ms"] for n in by},
        "io_freeze_max_ms": {str(n): by[n]["io_freeze_max_ms"] for n in by},
        "bare_transaction_stall_max_ms": {str(b["volumes"]): b["stall_max_ms"] for b in bare},
    }
    result = {
        "benchmark": "attached_clones", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "setup": {"volume_gib": 1, "write_bytes": WRITE, "span_bytes": SPAN, "repeat": args.repeat,
                  "writers": args.writers, "gap_s": args.gap, "flush_every": args.flush_every},
        "cases": cases, "bare": bare, "summary": summary, "server_log_io_paused": paused,
        "targets": {"stall_max_ms_at_50": 20.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
