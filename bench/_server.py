"""Start a throwaway ``volclone serve`` for a benchmark, with its own data dir and tokens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

VOLCLONE = str(Path(sys.executable).parent / "volclone")
#: Attachments need microversion 3.27.
MV = {"OpenStack-API-Version": "volume 3.27"}


@contextlib.contextmanager
def server(prepare: Callable[[dict[str, str]], None] | None = None, **env: str) -> Iterator[tuple[str, str, Path]]:
    """Yields (url, admin token, data dir); everything goes when the block ends. ``prepare(env)``
    runs before the server starts (e.g. ``volclone backend add``; ``env`` has VOLCLONE_DATA_DIR)."""
    with tempfile.TemporaryDirectory(prefix="volclone-bench-") as tmp:
        data = Path(tmp)
        # No quotas: benchmarks make more volumes than Cinder's default 10.
        full_env = {**os.environ, "VOLCLONE_DATA_DIR": tmp, "VOLCLONE_QUOTA_VOLUMES": "-1",
                    "VOLCLONE_QUOTA_GIGABYTES": "-1", "VOLCLONE_QUOTA_SNAPSHOTS": "-1", **env}
        token = subprocess.run([VOLCLONE, "token", "create", "--project", "bench", "--admin"], env=full_env,
                               capture_output=True, text=True, check=True).stdout.split()[-1]
        if prepare is not None:
            prepare(full_env)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(data / "serve.log", "wb") as log:
            proc = subprocess.Popen([VOLCLONE, "serve", "--port", str(port)], env=full_env,
                                    stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/v3/", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((data / "serve.log").read_text())
                time.sleep(0.05)
            yield url, token, data
        finally:
            proc.terminate()
            proc.wait(30)
            stop_daemon(data)


def stop_daemon(data: Path) -> None:
    """Stop the data directory's qemu-storage-daemon: it outlives the service while it
    serves attached volumes."""
    try:
        pid = int((data / "run" / "qsd.pid").read_text().strip())
        if b"qemu-storage-daemon" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass


def clone_and_wait(http: httpx.Client, ids: list[str], poll: float = 0.005) -> tuple[float, float, dict]:  # type: ignore[type-arg]
    """POST clone-volumes for ``ids`` and poll get_progress until the flow ends.

    Returns (POST time, end time) in perf_counter seconds and the last progress document;
    raises unless the flow ended in SUCCESS.
    """
    t0 = time.perf_counter()
    r = http.post("/clone-volumes", json={"clone-volumes": {"volumes": ids, "display-name": "bench"}})
    r.raise_for_status()
    task_uri = r.json()["clone-volumes"]["task_uri"]
    while True:
        p = http.get(task_uri).json()
        state = p["flow_details"]["cloneFlow"]
        if state in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(poll)
    t1 = time.perf_counter()
    if state != "SUCCESS":
        raise RuntimeError(f"clone ended {state}: {p['details']['results']}")
    return t0, t1, p


def attach(http: httpx.Client, volume_id: str) -> tuple[str, str]:
    """Attach a volume read-write and complete the attachment (volume in-use): (id, NBD uri)."""
    body = {"attachment": {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4()),
                           "connector": {"host": "bench"}, "mode": "rw"}}
    r = http.post("/attachments", json=body, headers=MV)
    r.raise_for_status()
    a = r.json()["attachment"]
    http.put(f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV).raise_for_status()
    return a["id"], a["connection_info"]["data"]["uri"]
