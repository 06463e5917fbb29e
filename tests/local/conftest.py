"""A local pool driver in process on a real qemu-storage-daemon and a SQLite file in ``tmp_path``:
``driver`` with the driver's defaults, ``make_driver(**options)`` for other ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port
from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.layers import Layer
from volclone.db.database import Database, make_engine, migrate
from volclone.db.layers import SqlLayerStore


@pytest.fixture
def make_driver(tmp_path: Path) -> Iterator[Callable[..., LocalDriver]]:
    made: list[tuple[LocalDriver, Any]] = []

    def make(**options: Any) -> LocalDriver:
        engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
        migrate(engine)
        d = LocalDriver("local", pool_dir=tmp_path / "pool", run_dir=tmp_path / "run",
                        store=SqlLayerStore(Database(engine), "local", Layer), nbd_port=free_port(), **options)
        d.start()
        made.append((d, engine))
        return d

    yield make
    for d, engine in made:
        d.stop()
        engine.dispose()


@pytest.fixture
def driver(make_driver: Callable[..., LocalDriver]) -> LocalDriver:
    return make_driver()
