"""POST clone-volumes/revert → SUCCESS on the local pool, for 1, 10 and 50 volumes of 1 GiB and
100 GiB virtual size (the revert's data is linked qcow2 layers: its time should not grow with
the size). Each run clones fresh sources, then times the revert of that clone task.

Writes bench/results/revert_latency.json.

    .venv/bin/python bench/revert_latency.py [--repeat 3]
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


def revert_once(http: httpx.Client, clone_task_id: str, poll: float = 0.005) -> float:
    t0 = time.perf_counter()
    r = http.post("/clone-volumes/revert", json={"revert": {"task_id": clone_task_id}})
    r.raise_for_status()
    task_uri = r.json()["revert"]["task_uri"]
    while True:
        p = http.get(task_uri).json()
        state = p["flow_details"]["revertFlow"]
        if state in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(poll)
    if state != "SUCCESS":
        raise RuntimeError(f"revert ended {state}: {p['details']['results']}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "revert_latency.json")
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
                    _, _, p = clone_and_wait(http, ids)
                    runs.append(revert_once(http, p["task_id"]))
                cases.append({"volumes": count, "size_gib": size, "median_s": statistics.median(runs),
                              "min_s": min(runs), "max_s": max(runs), "runs_s": runs})
                print(f"{count:3d} x {size:3d} GiB: median {statistics.median(runs) * 1000:7.1f} ms")
    by = {(c["volumes"], c["size_gib"]): c["median_s"] for c in cases}
    result = {
        "benchmark": "revert_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
                    "python": platform.python_version()},
        "cases": cases,
        "summary": {"ratio_100gib_to_1gib": {str(n): by[(n, 100)] / by[(n, 1)] for n in COUNTS}},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
