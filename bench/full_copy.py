"""Throughput of a ``full`` clone (volume type extra spec clone_mode=full) against
``cp --reflink=never`` of the same data, on the same filesystem, in the same run.

A volume of ``--gib`` GiB is filled with non-zero data (a raw file of random 64 MiB blocks
written into it with ``qemu-img convert -n`` while it is detached); the raw file stays next
to the pool, in the server's data directory. Then, ``--repeat`` times, alternately:

* clone the volume: POST clone-volumes → SUCCESS (the point-in-time copy is a
  ``blockdev-backup`` job in the daemon; the clone is deleted afterwards);
* ``cp --reflink=never`` the raw file (and, separately timed, the ``fsync`` of the copy).

Both start from a synced page cache holding the source. The figures are medians (and bests)
of the alternating runs, with the CPU time each side used (the daemon's for the clone), which
varies less than wall time on a shared machine. Target (issue 3): the full clone at >= 0.8x
the throughput of cp. Writes bench/results/full_copy.json.

    .venv/bin/python bench/full_copy.py [--gib 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from _server import server

MIB = 1024 * 1024
CHUNK = 64 * MIB


def make_raw(path: Path, gib: int) -> None:
    """``gib`` GiB of data no block of which is zero (random 64 MiB chunks, each a little different)."""
    base = bytearray(os.urandom(CHUNK))
    with open(path, "wb") as f:
        for i in range(gib * 1024 * MIB // CHUNK):
            base[:8] = i.to_bytes(8, "big")
            f.write(base)
        f.flush()
        os.fsync(f.fileno())


def active_file(data: Path, volume_id: str) -> Path:
    import sqlite3

    con = sqlite3.connect(data / "volclone.db")
    try:
        [(layer,)] = con.execute("SELECT id FROM layers WHERE volume_id = ?", (volume_id,)).fetchall()
    finally:
        con.close()
    return data / "pool" / f"{layer}.qcow2"


def timed_clone(http: httpx.Client, volume_id: str) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = http.post("/clone-volumes", json={"clone-volumes": {"volumes": [volume_id], "display-name": "bench"}})
    r.raise_for_status()
    task_uri = r.json()["clone-volumes"]["task_uri"]
    while True:
        p = http.get(task_uri).json()
        if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    if p["flow_details"]["cloneFlow"] != "SUCCESS":
        raise RuntimeError(f"clone ended {p['flow_details']}: {p['details']['results']}")
    return elapsed, p["details"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_cp(src: Path, dst: Path) -> tuple[float, float, float]:
    """(seconds for cp, its CPU seconds, seconds for the fsync of the copy after it)."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(["cp", "--reflink=never", str(src), str(dst)], check=True)
    t1 = time.perf_counter()
    after = os.times()
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return t1 - t0, cpu, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "full_copy.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    clones, cps = [], []
    with server() as (url, token, data):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=600)
        r = http.post("/types", json={"volume_type": {"name": "full", "extra_specs": {"clone_mode": "full"}}})
        r.raise_for_status()
        type_id = r.json()["volume_type"]["id"]
        r = http.post("/volumes", json={"volume": {"size": args.gib, "volume_type": type_id}})
        r.raise_for_status()
        vid = r.json()["volume"]["id"]
        qsd = int((data / "run" / "qsd.pid").read_text().strip())
        raw = data / "source.raw"
        t0 = time.perf_counter()
        make_raw(raw, args.gib)
        subprocess.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw),
                        str(active_file(data, vid))], check=True)
        print(f"{args.gib} GiB of data written in {time.perf_counter() - t0:.1f} s")
        for _ in range(args.repeat):
            subprocess.run(["sync"], check=True)
            cpu0 = cpu_seconds(qsd)
            elapsed, details = timed_clone(http, vid)
            cpu = cpu_seconds(qsd) - cpu0
            clone_id = details["results"][vid]
            size = int(details.get("bytes_total", args.gib * 1024 * MIB))
            clones.append({"seconds": elapsed, "daemon_cpu_s": cpu, "bytes": size, "mib_per_s": size / MIB / elapsed})
            http.delete(f"/volumes/{clone_id}").raise_for_status()
            subprocess.run(["sync"], check=True)
            copy = data / "copy.raw"
            cp_s, cp_cpu, fsync_s = timed_cp(raw, copy)
            size = raw.stat().st_size
            cps.append({"seconds": cp_s, "cpu_s": cp_cpu, "fsync_after_s": fsync_s, "bytes": size,
                        "mib_per_s": size / MIB / cp_s,
                        "mib_per_s_with_fsync": size / MIB / (cp_s + fsync_s)})
            copy.unlink()
            print(f"full clone {clones[-1]['mib_per_s']:7.1f} MiB/s ({elapsed:.2f} s, daemon CPU {cpu:.2f} s); "
                  f"cp --reflink=never {cps[-1]['mib_per_s']:7.1f} MiB/s ({cp_s:.2f} s, CPU {cp_cpu:.2f} s, "
                  f"+{fsync_s:.2f} s fsync)")
        fs = subprocess.run(["stat", "-f", "-c", "%T", str(data)], capture_output=True, text=True).stdout.strip()
    clone_rate = statistics.median(c["mib_per_s"] for c in clones)
    cp_rate = statistics.median(c["mib_per_s"] for c in cps)
    cp_rate_fsync = statistics.median(c["mib_per_s_with_fsync"] for c in cps)
    best_clone, best_cp = max(c["mib_per_s"] for c in clones), max(c["mib_per_s"] for c in cps)
    gib = args.gib
    summary = {"full_clone_mib_per_s": clone_rate, "cp_mib_per_s": cp_rate, "ratio": clone_rate / cp_rate,
               "best_full_clone_mib_per_s": best_clone, "best_cp_mib_per_s": best_cp,
               "ratio_best": best_clone / best_cp,
               "cp_with_fsync_mib_per_s": cp_rate_fsync, "ratio_to_cp_with_fsync": clone_rate / cp_rate_fsync,
               "daemon_cpu_s_per_gib": statistics.median(c["daemon_cpu_s"] for c in clones) / gib,
               "cp_cpu_s_per_gib": statistics.median(c["cpu_s"] for c in cps) / gib}
    result = {
        "benchmark": "full_copy", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "filesystem": fs,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "setup": {"gib": args.gib, "repeat": args.repeat},
        "clones": clones, "cp": cps, "summary": summary, "targets": {"ratio_min": 0.8},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
