"""Resident memory of ``volclone serve`` and of its qemu-storage-daemon, idle and with 100
attached volumes.

The service's pid is found by its command line (``volclone serve --port PORT``), the daemon's
in ``<data dir>/run/qsd.pid``; both are read from ``/proc/PID/status`` (VmRSS, with RssAnon,
the memory that is the process's own rather than shared file pages, and VmHWM, the peak).
States measured:

* ``idle``: started, one request served;
* ``exported``: ``--volumes`` volumes (1 GiB) attached read-write through the attachments API
  (each an NBD export of the daemon), no client connected yet;
* ``connected``: an NBD client (libnbd, in this process) connected to every export;
* ``attached``: ... and each client wrote and flushed 4 x 64 KiB at scattered offsets; the
  clients stay connected while the memory is read. The target is judged on this state.

Target (issue 3): service + daemon under 150 MiB with 100 attached volumes.
Writes bench/results/memory.json.

    .venv/bin/python bench/memory.py [--volumes 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import httpx

from _server import attach, server

MIB = 1024 * 1024


def serve_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"--port" in args and str(port).encode() in args:
            return int(proc.name)
    raise RuntimeError(f"no volclone serve process on port {port}")


def status(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of a process, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"):
            n = int(value.split()[0])
            out[key] = n if key == "Threads" else round(n / 1024, 1)
    return out


def snapshot(pids: dict[str, int]) -> dict[str, Any]:
    time.sleep(1.0)  # let both settle after the last request
    procs = {name: status(pid) for name, pid in pids.items()}
    return {**procs, "total_rss_mib": round(sum(p["VmRSS"] for p in procs.values()), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--volumes", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "memory.json")
    args = ap.parse_args()
    import nbd

    load_before = os.getloadavg()
    states = {}
    with server() as (url, token, data):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=120)
        pids = {"service": serve_pid(httpx.URL(url).port or 0),
                "daemon": int((data / "run" / "qsd.pid").read_text().strip())}
        http.get("/volumes").raise_for_status()
        states["idle"] = snapshot(pids)
        print("idle:", json.dumps(states["idle"]))

        t0 = time.perf_counter()
        uris = []
        for _ in range(args.volumes):
            vid = http.post("/volumes", json={"volume": {"size": 1}}).json()["volume"]["id"]
            uris.append(attach(http, vid)[1])
        attach_s = time.perf_counter() - t0
        states["exported"] = snapshot(pids)
        print(f"{args.volumes} attached, no client ({attach_s:.1f} s):", json.dumps(states["exported"]))
        handles = []
        for uri in uris:
            h = nbd.NBD()
            h.connect_uri(uri)
            handles.append(h)
        states["connected"] = snapshot(pids)
        print(f"{args.volumes} attached, clients connected:", json.dumps(states["connected"]))
        for i, h in enumerate(handles):
            for k in range(4):
                h.pwrite(os.urandom(64 * 1024), (i * 7 + k * 4099) % 16384 * 64 * 1024)
            h.flush()
        states["attached"] = snapshot(pids)
        print(f"{args.volumes} attached, connected, written:", json.dumps(states["attached"]))
        for h in handles:
            h.shutdown()
    summary = {"idle_total_rss_mib": states["idle"]["total_rss_mib"],
               "exported_total_rss_mib": states["exported"]["total_rss_mib"],
               "connected_total_rss_mib": states["connected"]["total_rss_mib"],
               "attached_total_rss_mib": states["attached"]["total_rss_mib"],
               "attached_service_rss_mib": states["attached"]["service"]["VmRSS"],
               "attached_daemon_rss_mib": states["attached"]["daemon"]["VmRSS"]}
    result = {
        "benchmark": "memory", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "setup": {"volumes": args.volumes, "attach_all_s": attach_s},
        "states": states, "summary": summary, "targets": {"attached_total_rss_mib_max": 150},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
