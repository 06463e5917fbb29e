"""Snapshots on the local pool: POST /snapshots (answered once the snapshot is taken), a volume
from it, a revert to it, and the snapshot's delete, for volumes of 1 GiB and 100 GiB virtual size
with 64 MiB written. Each case runs ``--repeat`` times on a fresh volume; medians are reported.

Writes bench/results/snapshot_latency.json. The server accepts microversion 3.40 for the revert
through the test-only VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION.

    .venv/bin/python bench/snapshot_latency.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import httpx

from _server import server

SIZES_GIB = (1, 100)
MV_REVERT = {"OpenStack-API-Version": "volume 3.40"}


def timed(http: httpx.Client, method: str, path: str, **kw: object) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = http.request(method, path, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - t0, r


def write_data(data_dir: Path, vid: str) -> None:
    """64 MiB into the volume's active layer with qemu-io (the volume is not attached)."""
    pool = data_dir / "pool"
    rows = subprocess.run(["sqlite3", str(data_dir / "volclone.db"),
                           f"SELECT id FROM layers WHERE volume_id = '{vid}'"], capture_output=True, text=True,
                          check=True).stdout.split()
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64M", str(pool / f"{rows[0]}.qcow2")],
                   check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "snapshot_latency.json")
    args = ap.parse_args()
    cases = []
    with server(VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION="3.40") as (url, token, data_dir):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=300)
        for size in SIZES_GIB:
            runs: dict[str, list[float]] = {"create": [], "volume_from": [], "revert": [], "delete": []}
            for _ in range(args.repeat):
                vid = http.post("/volumes", json={"volume": {"size": size}}).json()["volume"]["id"]
                write_data(data_dir, vid)
                s, r = timed(http, "POST", "/snapshots", json={"snapshot": {"volume_id": vid}})
                assert r.status_code == 202, r.text
                sid = r.json()["snapshot"]["id"]
                runs["create"].append(s)
                s, r = timed(http, "POST", "/volumes", json={"volume": {"snapshot_id": sid}})
                assert r.status_code == 202, r.text
                runs["volume_from"].append(s)
                made = r.json()["volume"]["id"]
                s, r = timed(http, "POST", f"/volumes/{vid}/action", json={"revert": {"snapshot_id": sid}},
                              headers=MV_REVERT)
                assert r.status_code == 202, r.text
                runs["revert"].append(s)
                http.delete(f"/volumes/{made}")
                s, r = timed(http, "DELETE", f"/snapshots/{sid}")
                assert r.status_code == 202, r.text
                runs["delete"].append(s)
                http.delete(f"/volumes/{vid}")
            case = {"size_gib": size, **{f"{k}_median_ms": statistics.median(v) * 1000 for k, v in runs.items()},
                    "runs_ms": {k: [x * 1000 for x in v] for k, v in runs.items()}}
            cases.append(case)
            print(f"{size:3d} GiB: " + ", ".join(f"{k} {statistics.median(v) * 1000:.1f} ms" for k, v in runs.items()))
    result = {
        "benchmark": "snapshot_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
                    "python": platform.python_version()},
        "data_written_mib": 64, "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
