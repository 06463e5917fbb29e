"""How fast a cancelled clone task stops, on the local pool with a full copy (clone_mode=full).

A volume of ``--gib`` GiB is filled with ``--data-gib`` GiB of non-zero data (``qemu-io``
while it is detached). Then, ``--repeat`` times: POST clone-volumes, wait until the copy has
moved bytes for ``--after`` seconds, POST ``{"cancel": {}}`` and measure, from just before that
request:

* ``copy_stopped_s``: until the copy's ``blockdev-backup`` job no longer runs in the
  qemu-storage-daemon (``query-jobs`` on its QMP socket, polled every 5 ms from this process);
* ``reverted_s``: until get_progress says REVERTED (polled every 10 ms);
* ``cancel_answer_s``: the POST's own time (it records the cancel in the database).

The parts of ``copy_stopped_s``: the serve process sees the mark within its poll interval
(``flows.cancels.POLL_S``, 0.2 s: 0.1 s on average), the local driver's copy loop asks the
progress callback every 0.02 s, then cancels the job (QMP ``job-cancel``, ``job-dismiss``).
Writes bench/results/cancel_latency.json.

    .venv/bin/python bench/cancel_latency.py [--gib 4] [--data-gib 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from _server import server
from full_copy import active_file

RUNNING = {"created", "running", "paused", "ready", "standby", "waiting", "pending"}


def fill(image: Path, data_gib: int) -> None:
    """``data_gib`` GiB of non-zero data from offset 0 (qemu-io writes at most 1 GiB a command)."""
    commands = []
    for n in range(data_gib):
        commands += ["-c", f"write -P {0x41 + n % 26:#04x} {n}G 1G"]
    subprocess.run(["qemu-io", "-f", "qcow2", str(image), *commands], check=True, capture_output=True)


def copy_jobs(qmp: Any) -> list[dict[str, Any]]:
    return [j for j in qmp.cmd("query-jobs") if j["id"].startswith("copy-")]


def one(http: httpx.Client, qmp: Any, volume_id: str, after: float) -> dict[str, Any]:
    r = http.post("/clone-volumes", json={"clone-volumes": {"volumes": [volume_id]}})
    r.raise_for_status()
    uri = r.json()["clone-volumes"]["task_uri"]
    task_id = httpx.URL(uri).params["task_id"]
    moving = None
    while True:  # until bytes move, then ``after`` seconds more
        p = http.get(uri).json()
        if p["flow_details"]["cloneFlow"] != "RUNNING":
            raise RuntimeError(f"the clone ended before the cancel: {p}")
        if p["details"].get("bytes_done") and moving is None:
            moving = time.perf_counter()
        if moving is not None and time.perf_counter() - moving >= after:
            break
        time.sleep(0.01)
    if not any(j["status"] in RUNNING for j in copy_jobs(qmp)):
        raise RuntimeError("the copy job is not running at the cancel; use more data")
    stopped: list[float] = []

    def watch_job() -> None:
        while any(j["status"] in RUNNING for j in copy_jobs(qmp)):
            time.sleep(0.005)
        stopped.append(time.perf_counter())

    watcher = threading.Thread(target=watch_job)
    t0 = time.perf_counter()
    watcher.start()
    r = http.post(f"/clone-volumes/{task_id}/action", json={"cancel": {}})
    answered = time.perf_counter()
    if r.status_code != 202:
        raise RuntimeError(f"cancel answered {r.status_code}: {r.text}")
    while True:
        p = http.get(uri).json()
        if p["flow_details"]["cloneFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(0.01)
    reverted = time.perf_counter()
    watcher.join(60)
    if p["flow_details"]["cloneFlow"] != "REVERTED":
        raise RuntimeError(f"the cancelled clone ended {p['flow_details']['cloneFlow']}: {p['details']}")
    d = p["details"]
    return {"cancel_answer_s": round(answered - t0, 4), "copy_stopped_s": round(stopped[0] - t0, 4),
            "reverted_s": round(reverted - t0, 4), "bytes_done": d.get("bytes_done"),
            "bytes_total": d.get("bytes_total"), "failure": d["results"].get("failure")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=int, default=4, help="volume size (GiB)")
    parser.add_argument("--data-gib", type=int, default=2, help="GiB of data in it (the copy's length)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--after", type=float, default=0.5, help="seconds of copying before the cancel")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cancel_latency.json"))
    args = parser.parse_args()

    from qemu.qmp.legacy import QEMUMonitorProtocol

    with server() as (url, token, data):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=120)
        body = {"volume_type": {"name": "full", "extra_specs": {"clone_mode": "full"}}}
        full = http.post("/types", json=body).json()["volume_type"]["id"]
        vid = http.post("/volumes", json={"volume": {"size": args.gib, "volume_type": full}}).json()["volume"]["id"]
        fill(active_file(data, vid), args.data_gib)
        qmp = QEMUMonitorProtocol(str(data / "run" / "qsd.qmp"))
        qmp.settimeout(30)
        qmp.connect()
        try:
            runs = [one(http, qmp, vid, args.after) for _ in range(args.repeat)]
        finally:
            qmp.close()

    def summary(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"median": round(statistics.median(values), 4), "max": round(max(values), 4),
                "min": round(min(values), 4)}

    result = {
        "bench": "cancel_latency", "machine": platform.node(), "cpus": len(os.sched_getaffinity(0)),
        "load_1m": round(os.getloadavg()[0], 2),
        "volume_gib": args.gib, "data_gib": args.data_gib, "cancel_after_s": args.after, "repeat": args.repeat,
        "copy_stopped_s": summary("copy_stopped_s"), "reverted_s": summary("reverted_s"),
        "cancel_answer_s": summary("cancel_answer_s"),
        "target": "copy stopped within 1 s of the request",
        "met": all(r["copy_stopped_s"] < 1.0 for r in runs), "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
