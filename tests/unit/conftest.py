"""The whole service in process: ``bootstrap.build`` on in-memory drivers and a real SQLite
file in a temporary directory (or a fresh PostgreSQL database per service with
``VOLCLONE_TEST_DATABASE=postgresql``, see tests/conftest.py). No HTTP server, no qemu; real
TaskFlow flows on real persistence.

``fast`` is one service for project ``p1``; ``make_fast(**settings)`` makes one with other
settings (``failpoints=...``, ``max_clone_volumes=...``) or more backends. ``Fast.restart``
builds a new service on the same database and drivers, as a restarted server would be. ``http``
is ``fast``'s REST API in process (:class:`tests.unit.http.Http`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import db_execute, db_rows
from volclone import bootstrap
from volclone.api import views
from volclone.backends.base import VolumeDriver
from volclone.backends.memory import MemoryDriver
from volclone.config import Settings
from volclone.domain import CloneProgress, CloneRequest, Principal, Volume
from volclone.flows.model import Step
from volclone.service import Service
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES

from .http import Http

MIB = 1024**2
#: Generous: a flow on the memory driver takes milliseconds; this only bounds a hang.
WAIT = 60

#: The flow's tasks in the order they run (name prefixes; the rest is the task id).
TASKS = [s.prefix for s in Step]
FINAL = {"SUCCESS", "REVERTED", "FAILURE"}


def position(task_name: str) -> int:
    step = Step.of(task_name)
    assert step is not None, task_name
    return list(Step).index(step)


@dataclass
class Fast:
    """One in-process service; ``mem`` is its default backend (``local``)."""

    settings: Settings
    drivers: dict[str, VolumeDriver]
    svc: Service
    who: Principal = field(default_factory=lambda: Principal("p1", roles=MEMBER_ROLES))
    admin: Principal = field(default_factory=lambda: Principal("admin", is_admin=True, roles=ADMIN_ROLES))
    project: str = "p1"
    #: Every service made for the test (restarts too), stopped at its end.
    made: list[Fast] = field(default_factory=list)

    @property
    def mem(self) -> MemoryDriver:
        driver = next(iter(self.drivers.values()))
        assert isinstance(driver, MemoryDriver)
        return driver

    # -- use cases -----------------------------------------------------------
    def volume(self, size: int = 1, name: str | None = None, fill: bytes | None = None,
               project: str | None = None, **kw: Any) -> Volume:
        """A new volume; with ``fill``, its first 64 KiB and the 64 KiB at 1 MiB hold it."""
        project = project or self.project
        vol = self.svc.volumes.create(Principal(project, roles=MEMBER_ROLES), project, size, name=name, **kw)
        if fill is not None:
            driver = self.drivers[vol.backend]
            assert isinstance(driver, MemoryDriver)
            driver.write(vol.id, 0, fill * 65536)
            driver.write(vol.id, MIB, fill[::-1] * 65536)
        return vol

    def clone(self, ids: list[str], **fields: Any) -> str:
        return self.svc.clones.start(self.who, CloneRequest(self.project, list(ids), **fields))

    def wait(self, task_id: str) -> CloneProgress:
        self.svc.clones.wait(task_id, WAIT)
        p = self.svc.clones.progress(self.who, self.project, task_id)
        assert p.flow_state.value in FINAL, p
        return p

    def body(self, task_id: str) -> dict[str, Any]:
        """get_progress's body, as the API serves it."""
        return views.progress(self.svc.clones.progress(self.who, self.project, task_id))

    def get(self, volume_id: str, project: str | None = None) -> Volume:
        project = project or self.project
        return self.svc.volumes.get(Principal(project), project, volume_id)

    def volume_ids(self) -> set[str]:
        return {v.id for v in self.svc.volumes.list(self.admin, self.project, all_projects=True)}

    # -- looking underneath (test seams: the database file and the drivers) ------
    @property
    def db_url(self) -> str:
        return self.settings.db_url

    def db_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return db_rows(self.db_url, sql, *args)

    def db_execute(self, sql: str, *args: Any) -> int:
        return db_execute(self.db_url, sql, *args)

    def set_status(self, volume_id: str, status: str) -> None:
        """Put a volume in a state no use case reaches on its own (error, creating, ...)."""
        assert db_execute(self.db_url, "UPDATE volumes SET status = ? WHERE id = ?", status, volume_id) == 1

    def footprint(self) -> dict[str, Any]:
        """Everything a request could have created: rows and the drivers' contents."""
        return {
            "volumes": self.db_rows("SELECT id, status, name FROM volumes ORDER BY id"),
            "volume_types": self.db_rows("SELECT id, extra_specs FROM volume_types ORDER BY id"),
            "clone_tasks": self.db_rows("SELECT id FROM clone_tasks ORDER BY id"),
            "volume_groups": self.db_rows("SELECT id FROM volume_groups ORDER BY id"),
            "logbooks": self.db_rows("SELECT uuid FROM logbooks ORDER BY uuid"),
            "drivers": {name: d.state() for name, d in self.drivers.items() if isinstance(d, MemoryDriver)},
        }

    @contextlib.contextmanager
    def creates_nothing(self) -> Iterator[None]:
        before = self.footprint()
        yield
        assert self.footprint() == before

    def digest(self, volume_id: str) -> str:
        """A hash of every byte the volume reads (sparse: only its allocated blocks are read)."""
        [driver] = [d for d in self.drivers.values() if isinstance(d, MemoryDriver) and d.volume_exists(volume_id)]
        h = hashlib.sha256(str(driver.size(volume_id)).encode())
        for offset, length in driver.extents(volume_id):
            data = driver.read(volume_id, offset, length)
            for at in range(0, length, 65536):  # zero blocks read like unwritten ones
                piece = data[at:at + 65536]
                if piece.strip(b"\0"):
                    h.update(f"{offset + at}:".encode() + piece)
        return h.hexdigest()

    def restart(self, **settings: Any) -> Fast:
        """Stop this service and build a new one on the same database and drivers."""
        self.svc.stop()
        new = Settings(**{**vars(self.settings), **settings})
        return _build(new, self.drivers, self.made)


def _build(settings: Settings, drivers: Mapping[str, VolumeDriver], made: list[Fast]) -> Fast:
    svc = bootstrap.build(settings, drivers=drivers)
    svc.start()
    fast = Fast(settings, dict(drivers), svc, made=made)
    made.append(fast)
    return fast


#: The fast services have no quotas unless a test sets them (tests/unit/test_quotas.py does).
NO_QUOTAS = {"quota_volumes": -1, "quota_gigabytes": -1, "quota_snapshots": -1}


#: Where the services' data directories go: a tmpfs when the machine has one. A flow's time
#: on disk is SQLite's fsyncs (TaskFlow saves every state change): measured, the seven
#: failpoint tests take 8 s in a tmp_path on disk and 2 s on tmpfs.
SHM = Path("/dev/shm")


@pytest.fixture
def data_root(tmp_path: Path) -> Iterator[Path]:
    if not (SHM.is_dir() and os.access(SHM, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=SHM, prefix="volclone-unit-") as root:
        yield Path(root)


@pytest.fixture
def make_fast(data_root: Path, new_database: Callable[[Path], str]) -> Iterator[Any]:
    """``make_fast(drivers=..., **settings)``: a started in-process service; stopped at the end."""
    made: list[Fast] = []

    def make(drivers: Mapping[str, VolumeDriver] | None = None, **settings: Any) -> Fast:
        data_dir = data_root / f"svc{len(made)}"  # restarts reuse their service's directory (and database)
        settings = {**NO_QUOTAS, "database_url": new_database(data_dir), **settings}
        return _build(Settings(data_dir=data_dir, **settings), drivers or {"local": MemoryDriver("local")}, made)

    yield make
    for fast in made:
        with contextlib.suppress(Exception):  # a restarted one was stopped already
            fast.svc.stop()


@pytest.fixture
def fast(make_fast: Any) -> Fast:
    return make_fast()  # type: ignore[no-any-return]


@pytest.fixture
def http(fast: Fast) -> Iterator[Http]:
    """``fast``'s REST API in process (see tests/unit/http.py)."""
    with Http.serving(fast) as client:
        yield client
