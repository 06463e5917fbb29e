"""QoS on the local pool, measured: the I/O rate one NBD client gets from a volume of a type with a
QoS spec, against the same client on a volume without one, and after a live change of the spec.

One client (python3-libnbd, one request at a time, like a guest at queue depth 1) writes for
``--seconds`` per case:

* ``iops``: 4 KiB writes at random 4 KiB-aligned offsets in the first 64 MiB; the spec sets
  ``total_iops_sec`` (``--iops``), then a ``PUT /qos-specs/{id}`` sets it to twice that while the
  volume stays attached;
* ``bps``: 1 MiB writes; the spec sets ``total_bytes_sec`` (``--mib-s`` MiB/s).

Each case reports the rate reached and its ratio to the limit. Writes bench/results/qos_throttle.json.

    .venv/bin/python bench/qos_throttle.py [--seconds 5] [--iops 200] [--mib-s 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import random
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import nbd

from _server import attach, server

KIB = 1024
MIB = 1024 * KIB
SPAN = 64 * MIB


def rate(uri: str, size: int, seconds: float) -> float:
    """Writes of ``size`` bytes per second one client reaches over ``seconds``."""
    h = nbd.NBD()
    h.connect_uri(uri)
    data = random.randbytes(size)
    rng = random.Random(7)
    n = 0
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            h.pwrite(data, rng.randrange(0, SPAN // size) * size)
            n += 1
    finally:
        h.shutdown()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--iops", type=int, default=200)
    ap.add_argument("--mib-s", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "qos_throttle.json")
    args = ap.parse_args()
    cases: list[dict[str, Any]] = []
    with server() as (url, token, _):
        http = httpx.Client(base_url=f"{url}/v3/bench", headers={"X-Auth-Token": token}, timeout=60)

        def volume(type_name: str | None) -> str:
            body = {"volume": {"size": 1, **({"volume_type": type_name} if type_name else {})}}
            r = http.post("/volumes", json=body)
            r.raise_for_status()
            return str(r.json()["volume"]["id"])

        def qos_type(specs: dict[str, str]) -> tuple[str, str]:
            name = f"qos-{uuid.uuid4().hex[:8]}"
            t = http.post("/types", json={"volume_type": {"name": name}}).json()["volume_type"]
            q = http.post("/qos-specs", json={"qos_specs": {"name": name, **specs}}).json()["qos_specs"]
            http.get(f"/qos-specs/{q['id']}/associate", params={"vol_type_id": t["id"]}).raise_for_status()
            return name, q["id"]

        def case(name: str, uri: str, size: int, limit: float | None, unit: str) -> None:
            got = rate(uri, size, args.seconds)
            value = got if unit == "iops" else got * size / MIB
            cases.append({"case": name, "unit": "IOPS" if unit == "iops" else "MiB/s", "limit": limit,
                          "measured": round(value, 1), "ratio": round(value / limit, 3) if limit else None})
            print(cases[-1], flush=True)

        _, plain_uri = attach(http, volume(None))
        case("4k writes, no QoS", plain_uri, 4 * KIB, None, "iops")
        case("1 MiB writes, no QoS", plain_uri, MIB, None, "bps")

        iops_type, iops_qos = qos_type({"total_iops_sec": str(args.iops)})
        _, uri = attach(http, volume(iops_type))
        case("4k writes, total_iops_sec", uri, 4 * KIB, args.iops, "iops")
        r = http.put(f"/qos-specs/{iops_qos}", json={"qos_specs": {"total_iops_sec": str(2 * args.iops)}})
        r.raise_for_status()
        case("4k writes, total_iops_sec doubled live", uri, 4 * KIB, 2 * args.iops, "iops")

        bps_type, _ = qos_type({"total_bytes_sec": str(args.mib_s * MIB)})
        _, uri = attach(http, volume(bps_type))
        case("1 MiB writes, total_bytes_sec", uri, MIB, args.mib_s, "bps")

    result = {"benchmark": "qos_throttle", "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
              "seconds_per_case": args.seconds, "cases": cases}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
