"""POST clone-volumes → SUCCESS, for 1, 10 and 50 volumes of 1 GiB and 100 GiB virtual size.

Writes bench/results/clone_latency.json. Targets (issue 2): 100 GiB within 1.2x of 1 GiB;
50 volumes in under 2 s on a 2-core machine. Each case runs ``--repeat`` times on fresh
sources (a source's chain grows by one layer per clone) and reports the median.

    .venv/bin/python bench/clone_latency.py [--repeat 5]
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

from _server import clone_and_wait, server

COUNTS = (1, 10, 50)
SIZES_GIB = (1, 100)


def clone_once(http: httpx.Client, ids: list[str]) -> float:
    t0, t1, _ = clone_and_wait(http, ids)
    return t1 - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "clone_latency.json")
    args = ap.parse_args()
    cases = []
    with server(VOLCLONE_MAX_CLONE_VOLUMES="100") as (url, token, _):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=120)
        for size in SIZES_GIB:
            for count in COUNTS:
                runs = []
                for _ in range(args.repeat):
                    ids = [http.post("/volumes", json={"volume": {"size": size}}).json()["volume"]["id"]
                           for _ in range(count)]
                    runs.append(clone_once(http, ids))
                cases.append({"volumes": count, "size_gib": size, "median_s": statistics.median(runs),
                              "min_s": min(runs), "max_s": max(runs), "runs_s": runs})
                print(f"{count:3d} x {size:3d} GiB: median {statistics.median(runs) * 1000:7.1f} ms")
    by = {(c["volumes"], c["size_gib"]): c["median_s"] for c in cases}
    summary = {
        "ratio_100gib_to_1gib": {str(n): by[(n, 100)] / by[(n, 1)] for n in COUNTS},
        "fifty_volumes_s": max(by[(50, s)] for s in SIZES_GIB),
    }
    result = {
        "benchmark": "clone_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
                    "python": platform.python_version()},
        "cases": cases, "summary": summary,
        "targets": {"ratio_100gib_to_1gib_max": 1.2, "fifty_volumes_s_max": 2.0},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
