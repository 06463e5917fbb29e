"""Clones on Ceph RBD: volclone's POST clone-volumes → SUCCESS against the raw floor, same run.

The workload (issue 4): 10 images of 1 GiB with 64 MiB written in each (16 extents of 4 MiB,
random bytes). Each round times, on the same source images:

* ``volclone``: POST /clone-volumes with the 10 volumes, polling get_progress until SUCCESS
  (group snapshot, copies, metadata, cleanup; everything the flow does);
* the floor, done directly with the rbd bindings and no volclone: ``rbd group create``, add the
  images, ``group snap create``, deep-copy each image from its group snapshot (the fastest
  copy Ceph 16 offers; the destination without object map, the one way it does not abort),
  remove the group. Twice: the copies one after another (``floor_serial``) and four at a time
  (``floor_parallel``). The floor is the faster of the two; both use librbd's default settings.

The order of the three alternates between rounds; clones are deleted between rounds (untimed).
Target: volclone within 1.3x of the floor. On a shared 2-core VM a round now and then runs slow
for everything in it, so the figure judged is the median of the per-round ratios (volclone /
that round's faster floor); the ratio of the medians is reported beside it. Also measured, without a target: the same
10 volumes cloned onto the local pool (``cross_backend_to_local``: snapshot on RBD, copy over).

    .venv/bin/python bench/rbd_clone.py [--rounds 5] [--conf CEPH_CONF --pool POOL]

Without ``--conf`` a throwaway one-node cluster is made with ``scripts/ceph-dev`` in a
temporary directory and stopped at the end. Writes bench/results/rbd_clone.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from _server import VOLCLONE, server

ROOT = Path(__file__).resolve().parents[1]
GIB, MIB = 1024**3, 1024**2
VOLUMES, SIZE_GIB, EXTENT, EXTENTS = 10, 1, 4 * MIB, 16  # 16 x 4 MiB = 64 MiB per image
POOL = "volclone-bench"
TARGET = 1.3


# -- the cluster --------------------------------------------------------------------
def free_port_range(count: int = 31) -> int:
    for _ in range(50):
        base = random.randrange(20000, 40000)
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


@contextmanager
def dev_cluster() -> Iterator[str]:
    """A throwaway scripts/ceph-dev cluster; yields its ceph.conf."""
    with tempfile.TemporaryDirectory(prefix="volclone-bench-ceph-", dir="/var/tmp") as tmp:
        env = {**os.environ, "VOLCLONE_CEPH_PORT": str(free_port_range())}
        script = str(ROOT / "scripts" / "ceph-dev")
        up = subprocess.run(["bash", script, "up", tmp], env=env, capture_output=True, text=True)
        try:
            if up.returncode != 0:
                raise RuntimeError(f"ceph-dev up failed:\n{up.stdout}\n{up.stderr}")
            yield up.stdout.strip().splitlines()[-1].removeprefix("export CEPH_CONF=")
        finally:
            subprocess.run(["bash", script, "down", tmp], env=env, capture_output=True)


def open_pool(conf: str, pool: str) -> tuple[Any, Any]:
    import rados

    import rbd

    cluster = rados.Rados(conffile=conf)
    cluster.connect(timeout=30)
    if not cluster.pool_exists(pool):
        cluster.create_pool(pool)
        ioctx = cluster.open_ioctx(pool)
        rbd.RBD().pool_init(ioctx, True)
    else:
        ioctx = cluster.open_ioctx(pool)
    return cluster, ioctx


# -- the floor: the same group snapshot + copies, with the bindings only -----------------
def floor_clone(ioctx: Any, images: list[str], tag: str, workers: int) -> tuple[float, list[str]]:
    import rbd

    group, dests = f"bench-floor-{tag}", [f"bench-floor-{tag}-{i}" for i in range(len(images))]
    t0 = time.perf_counter()
    rbd.RBD().group_create(ioctx, group)
    g = rbd.Group(ioctx, group)
    for name in images:
        g.add_image(ioctx, name)
    g.create_snap("s")
    snap_ids = {}
    for name in images:
        with rbd.Image(ioctx, name, read_only=True) as image:
            snap_ids[name] = next(s["id"] for s in image.list_snaps()
                                  if s["namespace"] == rbd.RBD_SNAP_NAMESPACE_TYPE_GROUP)

    def copy(pair: tuple[str, str]) -> None:
        src, dest = pair
        with rbd.Image(ioctx, src, read_only=True) as image:
            image.set_snap_by_id(snap_ids[src])
            features = image.features() & ~(rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF)
            image.deep_copy(ioctx, dest, features=features)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(copy, zip(images, dests, strict=False)))
    rbd.RBD().group_remove(ioctx, group)
    return time.perf_counter() - t0, dests


# -- volclone --------------------------------------------------------------------------------
#: Seconds between two get_progress polls (a client polling harder takes CPU from the cluster).
POLL = 0.05


def volclone_clone(http: httpx.Client, ids: list[str], target_type: str | None = None) -> tuple[float, dict[str, str]]:
    body: dict[str, Any] = {"volumes": ids, "display-name": "bench"}
    if target_type:
        body["target-volume-type-id"] = target_type
    t0 = time.perf_counter()
    r = http.post("/clone-volumes", json={"clone-volumes": body})
    r.raise_for_status()
    uri = r.json()["clone-volumes"]["task_uri"]
    while True:
        p = http.get(uri).json()
        state = p["flow_details"]["cloneFlow"]
        if state in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(POLL)
    elapsed = time.perf_counter() - t0
    if state != "SUCCESS":
        raise RuntimeError(f"clone ended {state}: {p['details']['results']}")
    return elapsed, p["details"]["results"]


def delete_volumes(http: httpx.Client, ids: list[str]) -> None:
    for vid in ids:
        http.delete(f"/volumes/{vid}").raise_for_status()


def floor_of(times: dict[str, list[float]]) -> float:
    """The faster floor of the last round."""
    return min(times["floor_serial"][-1], times["floor_parallel"][-1])


def summary(runs: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs), "runs_s": runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--conf", help="ceph.conf of an existing cluster (default: a throwaway dev cluster)")
    ap.add_argument("--pool", default=POOL)
    ap.add_argument("--poll", type=float, default=0.05, help="seconds between get_progress polls")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "rbd_clone.json")
    args = ap.parse_args()
    global POLL
    POLL = args.poll
    if shutil.which("ceph-mon") is None and not args.conf:
        sys.exit("Ceph is not installed (scripts/setup installs it)")
    with (dev_cluster() if not args.conf else _given(args.conf)) as conf:
        result = run(conf, args.pool, args.rounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))


@contextmanager
def _given(conf: str) -> Iterator[str]:
    yield conf


def run(conf: str, pool: str, rounds: int) -> dict[str, Any]:
    import rbd

    cluster, ioctx = open_pool(conf, pool)

    def add_backend(env: dict[str, str]) -> None:
        subprocess.run([VOLCLONE, "backend", "add", "ceph", "--driver", "rbd", "-o", f"conf={conf}",
                        "-o", f"pool={pool}"],
                       env=env, check=True, capture_output=True)

    times: dict[str, list[float]] = {"volclone": [], "floor_serial": [], "floor_parallel": [],
                                     "cross_backend_to_local": []}
    try:
        with server(prepare=add_backend) as (url, token, _):
            http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=300)
            ceph_type = http.post("/types", json={"volume_type": {
                "name": "ceph", "extra_specs": {"volume_backend_name": "ceph"}}}).json()["volume_type"]["id"]
            local_type = next(t["id"] for t in http.get("/types").json()["volume_types"]
                              if t["name"] == "__DEFAULT__")
            ids = [http.post("/volumes", json={"volume": {"size": SIZE_GIB, "volume_type": ceph_type}})
                   .json()["volume"]["id"] for _ in range(VOLUMES)]
            images = [f"volume-{v}" for v in ids]
            for name in images:
                with rbd.Image(ioctx, name) as image:
                    for k in range(EXTENTS):
                        image.write(os.urandom(EXTENT), k * (SIZE_GIB * GIB // EXTENTS))
            print(f"{VOLUMES} images of {SIZE_GIB} GiB with {EXTENTS * EXTENT // MIB} MiB each in pool {pool}")

            def vc() -> None:
                elapsed, clones = volclone_clone(http, ids)
                times["volclone"].append(elapsed)
                delete_volumes(http, list(clones.values()))

            def floor(workers: int, key: str) -> Callable[[], None]:
                def go() -> None:
                    elapsed, dests = floor_clone(ioctx, images, f"{key}-{len(times[key])}", workers)
                    times[key].append(elapsed)
                    for d in dests:
                        rbd.RBD().remove(ioctx, d)
                return go

            steps = [vc, floor(1, "floor_serial"), floor(4, "floor_parallel")]
            vc()  # warm-up (first use of the pool by the server), not counted
            times["volclone"].clear()
            for r in range(rounds):
                for step in steps[r % 3:] + steps[:r % 3]:
                    step()
                print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v)
                      + f"; ratio {times['volclone'][-1] / floor_of(times):.2f}")
            for _ in range(max(1, rounds // 2)):
                elapsed, clones = volclone_clone(http, ids, target_type=local_type)
                times["cross_backend_to_local"].append(elapsed)
                delete_volumes(http, list(clones.values()))
            delete_volumes(http, ids)
    finally:
        ioctx.close()
        cluster.shutdown()

    cases = {k: summary(v) for k, v in times.items()}
    floor_s = min(cases["floor_serial"]["median_s"], cases["floor_parallel"]["median_s"])
    per_round = [v / min(s, p) for v, s, p in zip(times["volclone"], times["floor_serial"], times["floor_parallel"],
                                                  strict=False)]
    ratio = statistics.median(per_round)
    data = VOLUMES * EXTENTS * EXTENT
    return {
        "benchmark": "rbd_clone",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "ceph": subprocess.run(["ceph", "--version"], capture_output=True, text=True).stdout.strip()},
        "workload": {"volumes": VOLUMES, "size_gib": SIZE_GIB, "data_mib_each": EXTENTS * EXTENT // MIB,
                     "rounds": rounds, "cluster": "scripts/ceph-dev (1 mon, 1 bluestore OSD on a sparse file)"},
        "cases": cases,
        "per_round_ratio": per_round,
        "summary": {"volclone_s": cases["volclone"]["median_s"], "floor_s": floor_s, "ratio": ratio,
                    "ratio_of_medians": cases["volclone"]["median_s"] / floor_s,
                    "target_ratio_max": TARGET, "met": ratio <= TARGET,
                    "volclone_mib_per_s": data / MIB / cases["volclone"]["median_s"],
                    "cross_backend_to_local_s": cases["cross_backend_to_local"]["median_s"]},
    }


if __name__ == "__main__":
    main()
