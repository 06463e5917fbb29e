"""How long one reaper pass takes (``Reaper.run_once``) over a table of N volumes, on SQLite and
PostgreSQL: with none stale (every pass but the rare one after a crash), and with ``--stale``
of them left ``deleting`` long ago (the pass deletes them, on the in-memory driver).

The service runs a pass every VOLCLONE_STALE_AFTER_S / 2 (60 s by default); its cost is one
indexed-less query over the volumes table plus the work per stale volume.
Writes bench/results/reaper_pass.json.

    .venv/bin/python bench/reaper_pass.py [--volumes 10000] [--stale 100] [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from volclone import bootstrap
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.db.repos import Volumes
from volclone.db.schema import VolumeRow
from volclone.domain import Volume, VolumeStatus
from volclone.service.reaper import Reaper

LONG_AGO = dt.datetime(2000, 1, 1)


def measure(url: str, data_dir: Path, volumes: int, stale: int) -> dict[str, Any]:
    mem = MemoryDriver("local")
    svc = bootstrap.build(Settings(data_dir=data_dir, database_url=url), drivers={"local": mem})
    svc.start()
    try:
        repo: Volumes = svc.volumes.repo
        vtype = svc.types.find("__DEFAULT__")
        ids = [str(uuid.uuid4()) for _ in range(volumes)]
        for at in range(0, volumes, 1000):
            repo.add([Volume(id=i, project_id="p1", name=None, description=None, size=1,
                             status=VolumeStatus.AVAILABLE, volume_type_id=vtype.id, backend="local")
                      for i in ids[at:at + 1000]])
        attachments = svc.volumes.attachments
        assert attachments is not None
        reaper = Reaper(repo, svc.volumes.backends, attachments, served={"local"}, stale_after_s=120)
        idle = []
        for _ in range(20):
            t0 = time.perf_counter()
            assert reaper.run_once() == 0
            idle.append(time.perf_counter() - t0)
        for vid in ids[:stale]:
            mem.create_volume(vid, 1)
        with repo.db.session() as s:
            s.query(VolumeRow).filter(VolumeRow.id.in_(ids[:stale])).update(
                {"status": "deleting", "updated_at": LONG_AGO}, synchronize_session=False)
        t0 = time.perf_counter()
        fixed = reaper.run_once()
        busy = time.perf_counter() - t0
        assert fixed == stale, fixed
        return {"volumes": volumes, "idle_pass_ms_median": round(statistics.median(idle) * 1000, 2),
                "idle_pass_ms_max": round(max(idle) * 1000, 2), "stale": stale,
                "stale_pass_ms": round(busy * 1000, 1),
                "per_stale_volume_ms": round(busy * 1000 / stale, 2) if stale else None}
    finally:
        svc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--volumes", type=int, default=10000)
    ap.add_argument("--stale", type=int, default=100)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    results: dict[str, Any] = {"machine": platform.node(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory(prefix="volclone-reaper-bench-") as tmp:
        results["sqlite"] = measure("", Path(tmp) / "sqlite", args.volumes, args.stale)
        name = f"volclone_bench_{secrets.token_hex(4)}"
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
            results["postgresql"] = measure(url, Path(tmp) / "pg", args.volumes, args.stale)
        finally:
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as con:
                con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    out = Path(__file__).parent / "results" / "reaper_pass.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
