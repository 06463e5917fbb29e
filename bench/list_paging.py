"""What a page of ``GET /volumes/detail?limit=10`` costs against the whole list, over N volumes of
one project (and as many of another, which no list of the first shows), on SQLite and PostgreSQL.

In process: the real app (``create_app``) over the real service and database, called through
Starlette's test client (no sockets), so a figure is the API's work: parsing, the one SQL
statement of the page, and the volume views. Timed: the first page, a page from a marker in the
middle, a page sorted by name, and the whole list (``limit`` unset: at most 1,000, Cinder's
``osapi_max_limit``); then the service's ``page`` alone, without HTTP and views. Medians.
Writes bench/results/list_paging.json.

    .venv/bin/python bench/list_paging.py [--volumes 1000] [--repeat 30] [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from starlette.testclient import TestClient

from volclone import bootstrap
from volclone.api import listing
from volclone.api.app import create_app
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.domain import Principal, Volume, VolumeStatus


def _median_ms(client: TestClient, path: str, headers: dict[str, str], repeat: int, expect: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
        assert len(r.json()["volumes"]) == expect, (path, len(r.json()["volumes"]))
    return round(statistics.median(times) * 1000, 2)


def _service_ms(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 2)


def measure(url: str, data_dir: Path, volumes: int, repeat: int) -> dict[str, Any]:
    svc = bootstrap.build(Settings(data_dir=data_dir, database_url=url, quota_volumes=-1, quota_gigabytes=-1),
                          drivers={"local": MemoryDriver("local")})
    svc.start()
    try:
        vtype = svc.types.find("__DEFAULT__")
        for project in ("p1", "p2"):
            svc.volumes.repo.add([Volume(id=str(uuid.uuid4()), project_id=project, name=f"vol-{i:05d}",
                                         description=None, size=1 + i % 7, status=VolumeStatus.AVAILABLE,
                                         volume_type_id=vtype.id, backend="local", metadata={"i": str(i)})
                                  for i in range(volumes)])
        headers = {"X-Auth-Token": svc.auth.create_token("p1"), "OpenStack-API-Version": "volume 3.27"}
        with TestClient(create_app(svc, manage_lifecycle=False)) as client:
            base = "/v3/p1/volumes/detail"
            everything = client.get(base, headers=headers).json()["volumes"]
            middle = everything[len(everything) // 2]["id"]
            full = min(volumes, 1000)
            out = {
                "volumes_in_project": volumes,
                "full_list_ms": _median_ms(client, base, headers, repeat, full),
                "limit_10_ms": _median_ms(client, f"{base}?limit=10", headers, repeat, 10),
                "limit_10_after_marker_ms": _median_ms(client, f"{base}?limit=10&marker={middle}", headers,
                                                       repeat, 10),
                "limit_10_sort_name_ms": _median_ms(client, f"{base}?limit=10&sort=name:asc", headers, repeat, 10),
            }
        out["ratio_full_over_limit_10"] = round(out["full_list_ms"] / out["limit_10_ms"], 1)
        # The service alone (no HTTP, no views): the page's SQL and the records it makes.
        who = Principal("p1")
        page = listing.volume_list([("limit", "10")], (3, 27), False).query
        whole = listing.volume_list([], (3, 27), False).query
        out["service_full_list_ms"] = _service_ms(lambda: svc.volumes.page(who, "p1", whole), repeat)
        out["service_limit_10_ms"] = _service_ms(lambda: svc.volumes.page(who, "p1", page), repeat)
        out["service_ratio"] = round(out["service_full_list_ms"] / out["service_limit_10_ms"], 1)
        return out
    finally:
        svc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--volumes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": platform.node(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory(prefix="volclone-lists-bench-") as tmp:
        results["sqlite"] = measure("", Path(tmp) / "sqlite", args.volumes, args.repeat)
        name = f"volclone_bench_{secrets.token_hex(4)}"
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
            results["postgresql"] = measure(url, Path(tmp) / "pg", args.volumes, args.repeat)
        finally:
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    out = Path(__file__).parent / "results" / "list_paging.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
