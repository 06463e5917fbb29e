"""How long a clone flow waits after its worker is killed (``kill -9``) until another worker of
the backend runs it, on a real ``scripts/cluster-dev`` cluster (2 APIs, rbd workers w1 and w2).

    .venv/bin/python bench/cluster_handoff.py [--runs 3] [--fill-mib 1536] [--claim-expiry 15]

It brings a cluster up in a temporary directory on free ports (a private Redis), fills a 2 GiB
rbd volume with ``--fill-mib`` MiB (``rbd bench``) so that its clone's deep copy takes seconds,
then per run: posts a clone, SIGKILLs the worker whose log says ``runs clone flow <task>``, and
measures until the other worker's log says the same (the hand-off) and until get_progress ends.
The killed worker is started again (``cluster-dev up``) before the next run. JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "cluster-dev"
RESULTS = ROOT / "bench" / "results" / "cluster_handoff.json"
sys.path.insert(0, str(ROOT / "tests"))

from contract.ceph import PORTS as CEPH_PORTS  # noqa: E402
from contract.ceph import free_port_range  # noqa: E402


def cluster_dev(action: str, where: Path, env: dict[str, str]) -> str:
    out = subprocess.run(["bash", str(SCRIPT), action, str(where)], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"cluster-dev {action} failed:\n{out.stderr}")
    return out.stdout


def wait_log(path: Path, needle: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while needle not in path.read_text():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path.name} never said {needle!r}")
        time.sleep(0.02)
    return time.monotonic()


def one_run(where: Path, api: str, http: httpx.Client, source: str) -> dict[str, Any]:
    answer = http.post(f"{api}/v3/admin/clone-volumes",
                       json={"clone-volumes": {"display-name": "handoff", "volumes": [source]}})
    answer.raise_for_status()
    uri = answer.json()["clone-volumes"]["task_uri"]
    task = uri.rsplit("task_id=", 1)[1]
    needle = f"runs clone flow {task}"
    deadline = time.monotonic() + 30
    while not (runner := next((w for w in ("w1", "w2") if needle in (where / "log" / f"{w}.log").read_text()),
                              None)):
        if time.monotonic() > deadline:
            raise SystemExit("no worker ran the clone")
        time.sleep(0.02)
    other = "w2" if runner == "w1" else "w1"
    os.kill(int((where / "run" / f"{runner}.pid").read_text()), signal.SIGKILL)
    killed = time.monotonic()
    taken = wait_log(where / "log" / f"{other}.log", needle, 300)
    while (state := http.get(uri).json()["flow_details"]["cloneFlow"]) not in ("SUCCESS", "REVERTED", "FAILURE"):
        time.sleep(0.1)
    return {"killed": runner, "took_over": other, "handoff_s": round(taken - killed, 3),
            "ended_s": round(time.monotonic() - killed, 3), "state": state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fill-mib", type=int, default=1536)
    parser.add_argument("--claim-expiry", type=float, default=15.0)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="volclone-handoff-", dir="/var/tmp"))
    env = {**os.environ, "VOLCLONE_CLUSTER_REDIS_PORT": str(free_port_range(1)),
           "VOLCLONE_CLUSTER_API_PORT": str(free_port_range(2)),
           "VOLCLONE_CLUSTER_NBD_PORT": str(free_port_range(3)),
           "VOLCLONE_CLUSTER_CEPH_PORT": str(free_port_range(CEPH_PORTS)),
           "VOLCLONE_CLAIM_EXPIRY_S": str(args.claim_expiry)}
    env.pop("VOLCLONE_DATA_DIR", None)
    runs: list[dict[str, Any]] = []
    try:
        api = cluster_dev("up", where, env).split()[-2]
        token = (where / "admin-token").read_text().strip()
        with httpx.Client(headers={"X-Auth-Token": token}, timeout=60) as http:
            http.post(f"{api}/v3/admin/types", json={"volume_type": {
                "name": "ceph", "extra_specs": {"volume_backend_name": "ceph"}}}).raise_for_status()
            made = http.post(f"{api}/v3/admin/volumes", json={"volume": {"size": 2, "volume_type": "ceph"}})
            made.raise_for_status()
            source = made.json()["volume"]["id"]
            subprocess.run(["rbd", "-c", str(where / "ceph" / "ceph.conf"), "bench", "--io-type", "write",
                            "--io-size", "4M", "--io-total", f"{args.fill_mib}M", "--io-pattern", "seq",
                            f"rbd/volume-{source}"], check=True, capture_output=True, timeout=600)
            for i in range(args.runs):
                if i:
                    cluster_dev("up", where, env)  # the killed worker again
                runs.append(one_run(where, api, http, source))
                print(json.dumps(runs[-1]), flush=True)
    finally:
        cluster_dev("down", where, env)
    shutil.rmtree(where)  # only the logs were left; kept when a run failed
    handoffs = sorted(r["handoff_s"] for r in runs)
    result = {"claim_expiry_s": args.claim_expiry, "fill_mib": args.fill_mib, "runs": runs,
              "handoff_p50_s": statistics.median(handoffs), "handoff_max_s": handoffs[-1],
              "load_average": os.getloadavg()[0]}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))


if __name__ == "__main__":
    main()
