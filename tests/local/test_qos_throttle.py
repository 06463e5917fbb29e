"""QoS on the local pool's driver, on a real qemu-storage-daemon: the throttle filter of a served
volume stays right through a live merge under it (an active block-commit names the filter) and
through a takeover of the daemon by the next run of the driver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import nbd
import pytest

from conftest import free_port
from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.layers import Layer
from volclone.backends.local.throttle import filter_node
from volclone.db.database import Database, make_engine, migrate
from volclone.db.layers import SqlLayerStore

LIMITS = {"total_iops_sec": 5000, "write_bytes_sec": 64 << 20}
BLOCK = 64 * 1024


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[[], LocalDriver]]:
    """Drivers over one data directory (successive runs of the service), at one NBD address."""
    engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
    migrate(engine)
    made: list[LocalDriver] = []
    port = free_port()

    def _make() -> LocalDriver:
        made.append(LocalDriver("local", pool_dir=tmp_path / "pool", run_dir=tmp_path / "run",
                                store=SqlLayerStore(Database(engine), "local", Layer), nbd_port=port))
        made[-1].start()
        return made[-1]

    yield _make
    for d in made:
        d.stop()
    engine.dispose()


def _export_node(d: LocalDriver, volume_id: str) -> str | None:
    return next((e["node-name"] for e in d.daemon.execute("query-block-exports") if e["id"] == f"w-{volume_id}"),
                None)


def _rw(uri: str, write: bytes | None = None) -> bytes:
    h = nbd.NBD()
    h.connect_uri(uri)
    try:
        if write is not None:
            h.pwrite(write, 0)
        return bytes(h.pread(BLOCK, 0))
    finally:
        h.shutdown()


def test_a_live_merge_under_the_throttle_keeps_it_serving_the_volume(make: Callable[[], LocalDriver]) -> None:
    d = make()
    d.create_volume("a", 1)
    d.set_volume_qos("a", LIMITS)
    uri = str(d.initialize_connection("a", writable=True)["data"]["uri"])
    assert _export_node(d, "a") == filter_node("a") and d.volume_qos("a") == LIMITS
    _rw(uri, b"1" * BLOCK)
    d.create_snapshot("s1", "a")
    assert d.depth("a") == 2
    _rw(uri, b"2" * BLOCK)  # into the new active layer, through the filter
    d.delete_snapshot("s1", "a")  # the active layer folds into the frozen one, live
    assert d.depth("a") == 1
    assert _export_node(d, "a") == filter_node("a") and _rw(uri) == b"2" * BLOCK
    assert d.daemon_nodes() - d.graph.nodes == {filter_node("a")}, "no layer node left open but the filter"
    d.terminate_connection("a")
    assert d.daemon_nodes() == set() and d.volume_qos("a") == {}


def test_the_next_run_takes_over_a_throttled_export(make: Callable[[], LocalDriver]) -> None:
    first = make()
    first.create_volume("a", 1)
    first.set_volume_qos("a", LIMITS)
    uri = str(first.initialize_connection("a", writable=True)["data"]["uri"])
    _rw(uri, b"k" * BLOCK)
    first.stop(keep_serving=True)

    second = make()
    assert _export_node(second, "a") == filter_node("a"), "the export was kept as it was"
    assert second.volume_qos("a") == LIMITS, "read back from the daemon's group"
    assert filter_node("a") not in second.graph.nodes
    second.set_volume_qos("a", {"total_iops_sec": 100})  # the group exists: changed in place
    assert second.volume_qos("a") == {"total_iops_sec": 100}
    assert _rw(uri) == b"k" * BLOCK
    second.terminate_connection("a")
    assert second.daemon_nodes() == set() and second.volume_qos("a") == {}
