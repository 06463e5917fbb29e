"""Volume transfers in process, on the memory driver and SQLite (on tmpfs when the machine has
one). Each round offers a 1 GiB volume that has one snapshot and accepts it from a second
project, timed twice over: at the service (``TransferService.create`` / ``accept``, the figures
docs/transfers.md quotes) and through the API (``POST /os-volume-transfer`` and
``POST /os-volume-transfer/{id}/accept`` on a Starlette TestClient, no socket). Medians and p95.

Writes bench/results/transfer_latency.json.

    .venv/bin/python bench/transfer_latency.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from volclone import bootstrap
from volclone.api import create_app
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.domain import Principal
from volclone.service import Service
from volclone.service.auth import MEMBER_ROLES

SHM = Path("/dev/shm")


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def service_rounds(svc: Service, count: int) -> dict[str, list[float]]:
    owner, taker = Principal("p1", roles=MEMBER_ROLES), Principal("p2", roles=MEMBER_ROLES)
    assert svc.transfers is not None and svc.snapshots is not None
    runs: dict[str, list[float]] = {"create": [], "accept": []}
    for _ in range(count):
        vid = svc.volumes.create(owner, "p1", 1).id
        svc.snapshots.create(owner, "p1", vid)
        t0 = time.perf_counter()
        transfer, key = svc.transfers.create(owner, "p1", vid)
        runs["create"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        svc.transfers.accept(taker, "p2", transfer.id, key)
        runs["accept"].append(time.perf_counter() - t0)
    return runs


def api_rounds(client: TestClient, owner: str, taker: str, count: int) -> dict[str, list[float]]:
    def call(method: str, path: str, token: str, project: str, body: Any = None, status: int = 202) -> Any:
        r = client.request(method, f"/v3/{project}{path}", json=body, headers={"X-Auth-Token": token})
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    runs: dict[str, list[float]] = {"create": [], "accept": []}
    for _ in range(count):
        vid = call("POST", "/volumes", owner, "p1", {"volume": {"size": 1}})["volume"]["id"]
        call("POST", "/snapshots", owner, "p1", {"snapshot": {"volume_id": vid}})
        t0 = time.perf_counter()
        transfer = call("POST", "/os-volume-transfer", owner, "p1", {"transfer": {"volume_id": vid}})["transfer"]
        runs["create"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        call("POST", f"/os-volume-transfer/{transfer['id']}/accept", taker, "p2",
             {"accept": {"auth_key": transfer["auth_key"]}})
        runs["accept"].append(time.perf_counter() - t0)
        call("DELETE", f"/volumes/{vid}?cascade=true", taker, "p2")
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "transfer_latency.json")
    args = ap.parse_args()
    root = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=root, prefix="volclone-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), quota_volumes=-1, quota_gigabytes=-1, quota_snapshots=-1)
        svc = bootstrap.build(settings, drivers={"local": MemoryDriver("local")})
        svc.start()
        try:
            owner = svc.auth.create_token("p1", MEMBER_ROLES)
            taker = svc.auth.create_token("p2", MEMBER_ROLES)
            with TestClient(create_app(svc, manage_lifecycle=False)) as client:
                api_rounds(client, owner, taker, 10)  # warm-up: imports, the first statements' plans
                layers = {"service": service_rounds(svc, args.rounds),
                          "api": api_rounds(client, owner, taker, args.rounds)}
        finally:
            svc.stop()
    summary = {f"{layer}_{k}_{stat}_ms": round(fn(v) * 1000, 2) for layer, runs in layers.items()
               for k, v in runs.items() for stat, fn in (("median", statistics.median), ("p95", p95))}
    print(", ".join(f"{k} {v} ms" for k, v in summary.items()))
    result = {"benchmark": "transfer_latency", "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "database": "sqlite on tmpfs" if root else "sqlite", "rounds": args.rounds, **summary,
              "load_average_1m": os.getloadavg()[0],
              "runs_ms": {layer: {k: [round(x * 1000, 3) for x in v] for k, v in runs.items()}
                          for layer, runs in layers.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
