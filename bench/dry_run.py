"""What a dry run costs, and how far its estimate is from the copy it plans, on the local pool.

* latency: ``POST /clone-volumes?dry_run=true`` for ``N`` linked and ``N`` full volumes (the full
  ones each hold ``--mib`` MiB, so every plan runs ``qemu-img map`` per source), median of
  ``--repeat`` requests, next to the real request's POST (answered once the flow is started);
* estimate: the plan's ``totals.copy_seconds`` for the full volumes against the real clone's
  POST -> SUCCESS time (which includes the flow's own steps).

Writes bench/results/dry_run.json.

    .venv/bin/python bench/dry_run.py [--volumes 1 10 50] [--mib 64] [--repeat 9]
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
from full_copy import active_file

MIB = 1024 * 1024


def post(http: httpx.Client, ids: list[str], dry: bool) -> tuple[float, dict[str, Any]]:
    t0 = time.perf_counter()
    r = http.post("/clone-volumes", params={"dry_run": "true"} if dry else None,
                  json={"clone-volumes": {"volumes": ids, "display-name": "bench"}})
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    return elapsed, r.json()["clone-volumes"]


def until_done(http: httpx.Client, task_uri: str) -> dict[str, Any]:
    while True:
        p = http.get(task_uri).json()
        if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            if p["flow_details"]["cloneFlow"] != "SUCCESS":
                raise RuntimeError(f"clone ended {p['flow_details']}: {p['details']['results']}")
            return p  # type: ignore[no-any-return]
        time.sleep(0.02)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--volumes", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "dry_run.json")
    args = ap.parse_args()
    rows = []
    with server() as (url, token, data):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=600)
        r = http.post("/types", json={"volume_type": {"name": "full", "extra_specs": {"clone_mode": "full"}}})
        r.raise_for_status()
        full_type = r.json()["volume_type"]["id"]
        for n in args.volumes:
            for kind in ("linked", "full"):
                extra = {"volume_type": full_type} if kind == "full" else {}
                ids = []
                for _ in range(n):
                    r = http.post("/volumes", json={"volume": {"size": 1, **extra}})
                    r.raise_for_status()
                    ids.append(r.json()["volume"]["id"])
                    if kind == "full":
                        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {args.mib}M",
                                        str(active_file(data, ids[-1]))], check=True, capture_output=True)
                dry = [post(http, ids, dry=True) for _ in range(args.repeat)]
                plan = dry[-1][1]["plan"]
                real_s, started = post(http, ids, dry=False)
                t0 = time.perf_counter() - real_s
                p = until_done(http, started["task_uri"])
                done_s = time.perf_counter() - t0
                rows.append({"volumes": n, "kind": kind, "dry_run_median_s": statistics.median(d[0] for d in dry),
                             "dry_run_max_s": max(d[0] for d in dry), "real_post_s": real_s,
                             "real_post_to_success_s": done_s,
                             "planned_bytes": plan["totals"]["bytes_to_copy"],
                             "planned_copy_seconds": plan["totals"]["copy_seconds"],
                             "copied_bytes": p["details"].get("bytes_total")})
                print(json.dumps(rows[-1]))
                for cid in p["details"]["results"].values():
                    http.delete(f"/volumes/{cid}").raise_for_status()
                for vid in ids:
                    http.delete(f"/volumes/{vid}").raise_for_status()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                "load_before": os.getloadavg()},
                                    "mib_per_full_volume": args.mib, "repeat": args.repeat, "rows": rows},
                                   indent=2) + "\n")


if __name__ == "__main__":
    main()
