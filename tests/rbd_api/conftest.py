"""An RBD backend behind a real ``volclone serve``: the session's one-node Ceph cluster
(``contract.ceph``), a pool of these tests' own (so a listing of it is exact), and servers
whose data directory got the backend with ``volclone backend add``.

The package is ``rbd_api``, not ``rbd``: a test package named ``rbd`` would shadow Ceph's module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import Api, Server, free_port, make_token, run_cli
from contract.ceph import Cluster, ceph_cluster, pool_listing

__all__ = ["ceph_cluster"]  # fixtures

POOL = "volclone-api"
BACKEND = "ceph"
MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass
class RbdEnv:
    """A server with backend ``ceph`` on :data:`POOL`, a volume type on it, and the pool itself."""

    server: Server
    admin: Api
    user: Api
    io: Any  # rados.Ioctx on POOL, a connection of the tests' own
    conf: str
    ceph_type: str  # volume type id: volume_backend_name = ceph
    local_type: str  # the default type (the built-in local pool)

    def image(self, volume_id: str) -> str:
        return f"volume-{volume_id}"

    def write(self, volume_id: str, offset: int, data: bytes) -> None:
        import rbd

        with rbd.Image(self.io, self.image(volume_id)) as image:
            image.write(data, offset)

    def read(self, volume_id: str, offset: int, length: int) -> bytes:
        import rbd

        with rbd.Image(self.io, self.image(volume_id), read_only=True) as image:
            return bytes(image.read(offset, length))

    def listing(self) -> dict[str, Any]:
        return pool_listing(self.io)

    def volume(self, volume_id: str) -> dict[str, Any]:
        """As an admin sees it (with ``os-vol-host-attr:host``: WORKER@BACKEND#BACKEND)."""
        return self.admin.ok("GET", f"/volumes/{volume_id}")["volume"]  # type: ignore[no-any-return]

    def delete(self, *volume_ids: str) -> None:
        for vid in volume_ids:
            r = self.user.request("DELETE", f"/volumes/{vid}")
            assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        while any(v["id"] in volume_ids for v in self.user.ok("GET", "/volumes")["volumes"]):
            assert time.monotonic() < deadline, "volumes were not deleted"
            time.sleep(0.05)


def pattern(byte: int, length: int) -> bytes:
    return bytes([byte]) * length


@pytest.fixture(scope="session")
def api_pool(ceph_cluster: Cluster) -> Iterator[Any]:
    import rados

    import rbd

    cluster = rados.Rados(conffile=ceph_cluster.conf)
    cluster.connect(timeout=30)
    if not cluster.pool_exists(POOL):
        cluster.create_pool(POOL)
    ioctx = cluster.open_ioctx(POOL)
    rbd.RBD().pool_init(ioctx, True)
    _warm_up(ioctx)
    yield ioctx
    ioctx.close()
    cluster.shutdown()


def _warm_up(ioctx: Any) -> None:
    """Make, snapshot and remove an image and a group once, through the trash, so the pool's
    directory objects that librbd makes on first use exist: listings taken before and after a
    test compare exactly."""
    import rbd

    name, group = "volclone-warm-up", "volclone-warm-up-group"
    rbd.RBD().create(ioctx, name, MIB)
    rbd.RBD().group_create(ioctx, group)
    handle = rbd.Group(ioctx, group)
    handle.add_image(ioctx, name)
    handle.create_snap("s")
    rbd.RBD().group_remove(ioctx, group)
    # An image removed while another client has it open may pass through the trash.
    with rbd.Image(ioctx, name, read_only=True) as image:
        image_id = image.id()
    rbd.RBD().trash_move(ioctx, name, 0)
    rbd.RBD().trash_remove(ioctx, image_id)


def start_env(data_dir: Path, cluster: Cluster, io: Any, extra_env: dict[str, str] | None = None) -> RbdEnv:
    data_dir.mkdir(parents=True, exist_ok=True)
    admin_token, user_token = make_token(data_dir, "admin", admin=True), make_token(data_dir, "p1")
    run_cli(data_dir, "backend", "add", BACKEND, "--driver", "rbd", "-o", f"conf={cluster.conf}",
            "-o", f"pool={POOL}")
    server = Server(data_dir, free_port(), env=dict(extra_env or {}))
    server.start()
    admin, user = server.client(admin_token, "p1"), server.client(user_token, "p1")
    ceph_type = admin.ok("POST", "/types", json={"volume_type": {
        "name": "ceph", "extra_specs": {"volume_backend_name": BACKEND}}})["volume_type"]["id"]
    local_type = next(t["id"] for t in admin.ok("GET", "/types")["volume_types"] if t["name"] == "__DEFAULT__")
    return RbdEnv(server, admin, user, io, cluster.conf, ceph_type, local_type)


@pytest.fixture(scope="session")
def rbd_env(tmp_path_factory: pytest.TempPathFactory, ceph_cluster: Cluster, api_pool: Any) -> Iterator[RbdEnv]:
    """One shared server for tests that need no special environment."""
    e = start_env(tmp_path_factory.mktemp("volclone-rbd"), ceph_cluster, api_pool)
    yield e
    e.server.stop()


@pytest.fixture
def make_rbd_env(tmp_path_factory: pytest.TempPathFactory, ceph_cluster: Cluster, api_pool: Any) -> Iterator[Any]:
    """A server of one's own, e.g. with ``VOLCLONE_FAILPOINTS`` set."""
    started: list[RbdEnv] = []

    def _make(**extra_env: str) -> RbdEnv:
        e = start_env(tmp_path_factory.mktemp("volclone-rbd"), ceph_cluster, api_pool, extra_env)
        started.append(e)
        return e

    yield _make
    for e in started:
        e.server.stop()
