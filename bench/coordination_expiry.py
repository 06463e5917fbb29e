"""How long a member that dies holding a lock (``os._exit``, as ``kill -9``) stays in its group
and keeps its lock, on the machine's Redis with tooz's default timeouts (30 s both).

    .venv/bin/python bench/coordination_expiry.py [--redis redis://127.0.0.1:6379/1] [--lived 0.5 5 10]

Each run starts a holder (tests/cluster/holder.py) that lives ``lived`` seconds after it took
the lock, then measures from its death until it is gone from ``members`` and until the lock can
be taken. The runs go in parallel, each in a key namespace of its own; JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from volclone.cluster.coordination import Coordination

ROOT = Path(__file__).resolve().parents[1]
HOLDER = ROOT / "tests" / "cluster" / "holder.py"
RESULTS = ROOT / "bench" / "results" / "coordination_expiry.json"


def run(redis: str, lived: float, extra: str) -> dict[str, Any]:
    url = f"{redis}?namespace=volclone-bench-{uuid.uuid4().hex}{extra}"
    group, lock = "workers", "volume-x"
    watcher = Coordination(url, "watcher")
    watcher.start()
    try:
        watcher.join(group, {})
        holder = subprocess.run([sys.executable, str(HOLDER), url, "dead", group, lock, str(lived)],
                                capture_output=True, text=True, timeout=120)
        died = time.monotonic()
        assert holder.stdout.strip() == "held", holder.stderr
        dropped = freed = None
        while dropped is None or freed is None:
            now = time.monotonic() - died
            if dropped is None and "dead" not in watcher.members(group):
                dropped = now
            if freed is None:
                held = watcher.try_lock(lock)
                if held is not None:
                    freed = now
                    with held:
                        pass
            if now > 120:
                raise RuntimeError("nothing expired within 120 s")
            time.sleep(0.05)
        return {"lived_s": lived, "dropped_out_s": round(dropped, 2), "lock_freed_s": round(freed, 2)}
    finally:
        watcher.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--lived", type=float, nargs="+", default=[0.5, 5.0, 10.0, 14.0])
    parser.add_argument("--options", default="", help="more tooz options, e.g. '&membership_timeout=10'")
    args = parser.parse_args()
    with concurrent.futures.ThreadPoolExecutor(len(args.lived)) as pool:
        runs = list(pool.map(lambda lived: run(args.redis, lived, args.options), args.lived))
    result = {"tooz_options": args.options or "defaults (membership_timeout=30, lock_timeout=30)", "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
