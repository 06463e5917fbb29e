"""How long a cancel waits on Ceph 16, where a deep copy under way cannot be stopped.

Ceph 16's ``Image.deep_copy`` has no progress callback, so the RBD driver can only stop
*starting* copies when a clone task is cancelled; an image being copied is copied to its end,
then removed (all or nothing). This measures that wait for one image, on the RBD driver
itself (no server), against the bare component:

* ``bare_deep_copy_s``: one ``Image.deep_copy`` of the image from its group snapshot, with the
  bindings only (as the driver does it, destination without object map);
* ``cancel_wait_s``: ``clone_from_group_snapshot`` of the same image, whose progress callback
  raises Cancelled from ``--cancel-at`` of the bare copy's time on; measured from that moment
  to the call's raise (the copy finishing, then the partial clone removed).

The image is ``--gib`` GiB with ``--data-mib`` MiB of random data. Without ``--conf`` a
throwaway one-node cluster is made with ``scripts/ceph-dev``. Writes bench/results/rbd_cancel.json.

    .venv/bin/python bench/rbd_cancel.py [--gib 2] [--data-mib 1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from rbd_clone import dev_cluster, open_pool
from volclone.backends.rbd.driver import RbdDriver, image_name
from volclone.errors import Cancelled

POOL = "volclone-bench-cancel"
MIB = 1024**2


def bare_copy(ioctx: Any, source: str, snap_id: int, dest: str) -> float:
    import rbd

    t0 = time.perf_counter()
    with rbd.Image(ioctx, source, read_only=True) as image:
        image.set_snap_by_id(snap_id)
        features = image.features() & ~(rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF)
        image.deep_copy(ioctx, dest, features=features)
    elapsed = time.perf_counter() - t0
    rbd.RBD().remove(ioctx, dest)
    return elapsed


def cancelled_clone(driver: RbdDriver, snap: Any, source: str, after_s: float) -> dict[str, float]:
    cancel = threading.Event()
    clone = str(uuid.uuid4())

    def progress(done: int, total: int) -> None:
        if cancel.is_set():
            raise Cancelled()

    timer = threading.Timer(after_s, cancel.set)
    t_start = time.perf_counter()
    timer.start()
    try:
        driver.clone_from_group_snapshot(snap, {source: clone}, progress=progress)
        raise RuntimeError("the clone ended before the cancel; use more data or an earlier --cancel-at")
    except Cancelled:
        ended = time.perf_counter()
    finally:
        timer.cancel()
    if driver.volume_exists(clone):
        raise RuntimeError(f"the cancelled clone {clone} was left behind")
    cancelled_at = t_start + after_s
    return {"cancel_wait_s": round(ended - cancelled_at, 4), "whole_call_s": round(ended - t_start, 4)}


def run(conf: str, args: argparse.Namespace) -> dict[str, Any]:
    cluster, ioctx = open_pool(conf, POOL)
    driver = RbdDriver("ceph", conf=conf, pool=POOL)
    driver.start()
    source = str(uuid.uuid4())
    try:
        driver.create_volume(source, args.gib)
        import rbd

        with rbd.Image(ioctx, image_name(source)) as image:
            chunk = os.urandom(4 * MIB)
            for n in range(args.data_mib // 4):
                image.write(chunk, n * 4 * MIB)
        sid = f"bench-{uuid.uuid4().hex[:8]}"
        snap = driver.create_group_snapshot(sid, [source])
        snap_id = int(snap.members[source])
        runs = []
        for _ in range(args.repeat):
            bare = bare_copy(ioctx, image_name(source), snap_id, f"bench-bare-{uuid.uuid4().hex[:8]}")
            runs.append({"bare_deep_copy_s": round(bare, 4), "cancel_at_s": round(bare * args.cancel_at, 4),
                         **cancelled_clone(driver, snap, source, bare * args.cancel_at)})
        driver.delete_group_snapshot(sid)
    finally:
        with contextlib.suppress(Exception):
            driver.delete_volume(source)
        driver.stop()
        ioctx.close()
        cluster.shutdown()

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 4)

    return {"bench": "rbd_cancel", "machine": platform.node(), "load_1m": round(os.getloadavg()[0], 2),
            "image_gib": args.gib, "data_mib": args.data_mib, "cancel_at_fraction": args.cancel_at,
            "bare_deep_copy_s": median("bare_deep_copy_s"), "cancel_wait_s": median("cancel_wait_s"),
            "cancel_wait_over_remaining_copy": round(
                statistics.median(r["cancel_wait_s"] / (r["bare_deep_copy_s"] - r["cancel_at_s"]) for r in runs), 2),
            "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf", help="an existing cluster's ceph.conf (default: a throwaway one)")
    parser.add_argument("--gib", type=int, default=2)
    parser.add_argument("--data-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cancel-at", type=float, default=0.25, help="when the cancel comes, as a share of "
                        "the bare copy's time")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rbd_cancel.json"))
    args = parser.parse_args()
    if args.conf:
        result = run(args.conf, args)
    else:
        with dev_cluster() as conf:
            result = run(conf, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
