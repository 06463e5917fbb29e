"""The Tempest run's second backend: a one-node Ceph cluster (``scripts/ceph-dev``) in the run's
work directory, added to volclone as backend ``ceph`` (RBD, pool ``rbd``) before it starts::

    with ceph_backend(workdir) as ceph:    # None: Ceph could not be brought up (said on stderr)
        if ceph is not None:
            add_to(data_dir, ceph)         # volclone backend add ceph --driver rbd ...

The cluster is stopped when the block ends, also when it ends by an exception (SIGTERM reaches
the harness as ``KeyboardInterrupt``), and also after an ``up`` that failed half-way.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import run_cli
from contract.ceph import ceph_dev, free_port_range

NAME = "ceph"
POOL = "rbd"
#: What ``scripts/ceph-dev`` and the RBD driver need (``scripts/setup`` installs them).
BINARIES = ("ceph-mon", "ceph-osd", "monmaptool", "rbd")
MODULES = ("rados", "rbd")


@dataclass(frozen=True)
class CephBackend:
    conf: str
    name: str = NAME
    pool: str = POOL


def missing() -> list[str]:
    """The Ceph binaries and Python bindings that are not installed."""
    return [*(b for b in BINARIES if shutil.which(b) is None),
            *(m for m in MODULES if importlib.util.find_spec(m) is None)]


def shout(message: str) -> None:
    """A warning nobody scrolling past the run can miss."""
    bar = "!" * 78
    print(f"{bar}\n!! {message}\n!! multi_backend stays False: Tempest's multi-backend classes are SKIPPED.\n{bar}",
          file=sys.stderr, flush=True)


@contextmanager
def ceph_backend(base: Path) -> Iterator[CephBackend | None]:
    """A running cluster for the block, or None (and a loud warning) if it can't be had."""
    absent = missing()
    if absent:
        shout(f"Ceph is not installed (missing {', '.join(absent)}; scripts/setup installs it).")
        yield None
        return
    cluster_dir = base / "ceph"
    try:
        up = ceph_dev("up", str(cluster_dir), port=free_port_range())
        if up.returncode != 0:
            shout(f"scripts/ceph-dev up {cluster_dir} failed (exit {up.returncode}):\n{up.stdout}\n{up.stderr}")
            yield None
            return
        yield CephBackend(conf=up.stdout.strip().splitlines()[-1].removeprefix("export CEPH_CONF="))
    finally:
        ceph_dev("down", str(cluster_dir))


def add_to(data_dir: Path, ceph: CephBackend) -> None:
    """``volclone backend add`` into ``data_dir`` (before ``volclone serve`` starts on it)."""
    run_cli(data_dir, "backend", "add", ceph.name, "--driver", "rbd", "-o", f"conf={ceph.conf}",
            "-o", f"pool={ceph.pool}")
