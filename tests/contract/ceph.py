"""A throwaway one-node Ceph cluster for tests, made by ``scripts/ceph-dev`` in the session's
temporary directory and stopped at the end of the session.

Test modules that need it import the fixtures (``from contract.ceph import ceph_cluster, ceph_io``).
Every importing module gets its own fixture instance, but all of them use the same directory and
``ceph-dev up`` is idempotent, so one cluster serves the whole session.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CEPH_DEV = Path(__file__).resolve().parents[2] / "scripts" / "ceph-dev"
POOL = "rbd"
#: ceph-dev uses PORT (mon msgr2), PORT+1 (mon msgr1) and PORT+2..PORT+30 (the OSD).
PORTS = 31


@dataclass(frozen=True)
class Cluster:
    dir: Path
    conf: str
    pool: str = POOL


def free_port_range(count: int = PORTS) -> int:
    """A base port such that ``count`` ports from it are free on 127.0.0.1 now."""
    for _ in range(50):
        base = random.randrange(20000, 40000)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free range of ports for the test cluster")


def ceph_dev(*args: str, port: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"VOLCLONE_CEPH_PORT": str(port)} if port else {})}
    return subprocess.run(["bash", str(CEPH_DEV), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def ceph_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = [b for b in ("ceph-mon", "ceph-osd", "monmaptool", "rbd") if shutil.which(b) is None]
    missing += [m for m in ("rados", "rbd") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"Ceph is not installed (missing {', '.join(missing)}; scripts/setup installs it)")
    cluster_dir = tmp_path_factory.getbasetemp() / "ceph"
    up = ceph_dev("up", str(cluster_dir), port=free_port_range())
    if up.returncode != 0:
        ceph_dev("down", str(cluster_dir))
        pytest.fail(f"scripts/ceph-dev up failed:\n{up.stdout}\n{up.stderr}")
    conf = up.stdout.strip().splitlines()[-1].removeprefix("export CEPH_CONF=")
    yield Cluster(cluster_dir, conf)
    ceph_dev("down", str(cluster_dir))


@pytest.fixture(scope="session")
def ceph_io(ceph_cluster: Cluster) -> Iterator[Any]:
    """An I/O context on the test pool through a connection of the tests' own (not the driver's)."""
    import rados

    cluster = rados.Rados(conffile=ceph_cluster.conf)
    cluster.connect(timeout=30)
    ioctx = cluster.open_ioctx(ceph_cluster.pool)
    yield ioctx
    ioctx.close()
    cluster.shutdown()


def pool_listing(ioctx: Any) -> dict[str, Any]:
    """Everything in the pool: images with their snapshots (all namespaces), groups, RADOS objects."""
    import rbd

    images, ids = {}, set()
    for name in sorted(rbd.RBD().list(ioctx)):
        try:
            with rbd.Image(ioctx, name, read_only=True) as image:
                images[name] = sorted((s["namespace"], s["name"]) for s in image.list_snaps())
                ids.add(image.id())
        except rbd.ImageNotFound:  # removed since the list (a test that polls while data goes)
            continue
    trash = sorted((t["id"], t["name"]) for t in rbd.RBD().trash_list(ioctx))
    ids.update(t_id for t_id, _ in trash)

    def kept(key: str) -> bool:
        # Not the group directory: Ceph makes it at the pool's first group and keeps it (empty);
        # the groups in it are listed. Not the data objects of an image that is neither listed nor
        # in the trash: an earlier removal still deleting them (seen with both test workers busy).
        if key == "rbd_group_directory":
            return False
        kind, _, rest = key.partition(".")
        return kind not in ("rbd_data", "rbd_object_map") or rest.split(".")[0] in ids

    return {
        "images": images,
        "trash": trash,
        "groups": sorted(rbd.RBD().group_list(ioctx)),
        "objects": sorted(o.key for o in ioctx.list_objects() if kept(o.key)),
    }
