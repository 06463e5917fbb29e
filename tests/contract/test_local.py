"""The driver contract on the local backend: qcow2 layers under a temporary directory,
their records in a migrated SQLite database; data read and written with ``qemu-io``."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from itertools import groupby
from pathlib import Path

import pytest

from conftest import free_port
from volclone.backends.base import CloneMethod
from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.layers import Layer
from volclone.backends.local.qsd import JobCancelled
from volclone.db.database import Database, make_engine, migrate
from volclone.db.layers import SqlLayerStore
from volclone.errors import Cancelled

from .base import BLOCK, Read, Write, block
from .extend import ExtendContract
from .group_snapshots import GroupSnapshotContract
from .plan import PlanContract
from .snapshots import SnapshotContract
from .swap import ServedSwapContract
from .volumes import VolumeContract


def qemu_io(path: Path, *commands: str, read_only: bool = False) -> str:
    args = ["qemu-io", "-f", "qcow2", *(["-r", "-U"] if read_only else [])]
    for command in commands:
        args += ["-c", command]
    out = subprocess.run([*args, str(path)], capture_output=True, text=True, timeout=60, check=True)
    # qemu-io reports failed commands on stdout and still exits 0
    assert "failed" not in out.stdout and "error" not in out.stdout.lower(), out.stdout
    return out.stdout


def parse_hexdump(text: str) -> bytes:
    """The bytes of ``read -v`` lines: ``00000000:  41 41 ...  AA..``."""
    data = bytearray()
    for line in text.splitlines():
        if len(line) > 10 and line[8:11] == ":  ":
            data += bytes.fromhex(line[11:].split("  ")[0])
    return bytes(data)


class TestLocalDriver(VolumeContract, GroupSnapshotContract, ExtendContract, PlanContract,
                      SnapshotContract, ServedSwapContract):
    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[LocalDriver]:
        engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
        migrate(engine)
        # An NBD port of its own: the default (10809) may be taken by another server on the machine.
        driver = LocalDriver("local", pool_dir=tmp_path / "pool", run_dir=tmp_path / "run",
                             store=SqlLayerStore(Database(engine), "local", Layer), nbd_port=free_port())
        driver.start()
        yield driver
        driver.stop()
        engine.dispose()

    @staticmethod
    def active_file(driver: LocalDriver, volume_id: str) -> Path:
        top = driver.store.top(volume_id)
        assert top is not None, f"volume {volume_id} has no active layer"
        return driver.path(top.id)

    @pytest.fixture
    def write(self, driver: LocalDriver) -> Write:
        def write(volume_id: str, offset: int, data: bytes) -> None:
            commands, at = [], offset
            for byte, run in groupby(data):  # qemu-io writes patterns: one command per run of a byte
                length = len(list(run))
                commands.append(f"write -P {byte:#04x} {at} {length}")
                at += length
            qemu_io(self.active_file(driver, volume_id), *commands)
        return write

    @pytest.fixture
    def read(self, driver: LocalDriver) -> Read:
        def read(volume_id: str, offset: int, length: int) -> bytes:
            out = qemu_io(self.active_file(driver, volume_id), f"read -v {offset} {length}", read_only=True)
            data = parse_hexdump(out)
            assert len(data) == length, out
            return data
        return read

    @pytest.fixture
    def pool_state(self, driver: LocalDriver) -> Callable[[], object]:
        return lambda: (sorted(p.name for p in driver.pool.iterdir()), sorted(driver.store.all_ids()))

    def expected_clone_methods(self, driver: LocalDriver) -> dict[bool, CloneMethod]:
        return {False: CloneMethod.REFLINK if driver.reflink else CloneMethod.LINKED, True: CloneMethod.FULL}


    def test_a_cancelled_full_copy_has_its_block_job_gone_at_once(self, driver: LocalDriver) -> None:
        """A progress that raises Cancelled (the clone task was cancelled) ends the copy's
        ``blockdev-backup`` job there and then, not at the revert's delete_group_snapshot."""
        driver.create_volume("v", 1)
        qemu_io(self.active_file(driver, "v"), "write -P 0x5a 0 8M")
        snap = driver.create_group_snapshot("s", ["v"], full_copy=["v"])
        assert [j["id"] for j in driver.daemon.execute("query-jobs")] == [f"copy-{snap.members['v']}"]

        def progress(done: int, total: int) -> None:
            raise Cancelled()

        with pytest.raises(Cancelled):
            driver.clone_from_group_snapshot(snap, {"v": "c"}, progress=progress)
        assert driver.daemon.execute("query-jobs") == []
        assert not driver.volume_exists("c")
        driver.delete_group_snapshot("s")
        assert driver.depth("v") == 1

    def test_stop_cancels_a_live_flatten_and_the_chain_reads_the_same(self, driver: LocalDriver) -> None:
        """Stopping the service does not wait for a flatten: its stream is cancelled, the
        volume keeps its chain, and every byte reads as before."""
        driver.create_volume("v", 1)
        qemu_io(self.active_file(driver, "v"), "write -P 0x5a 0 8M")
        snap = driver.create_group_snapshot("s", ["v"])
        driver.clone_from_group_snapshot(snap, {"v": "c"})
        driver.delete_group_snapshot("s")
        assert driver.depth("v") == 2
        driver.initialize_connection("v", writable=True)
        real = driver.daemon.run_job
        # the real stream, slowed to 1 MiB/s so that it is surely still running at stop()
        driver.daemon.run_job = lambda *a, **kw: real(*a, speed=1 << 20, **kw)  # type: ignore[method-assign]
        outcome: list[BaseException | bool] = []

        def flatten() -> None:
            try:
                outcome.append(driver.flatten("v"))
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                outcome.append(exc)

        worker = threading.Thread(target=flatten)
        worker.start()
        while not any(j["id"].startswith("stream-") for j in driver.daemon.execute("query-jobs")):
            assert worker.is_alive(), outcome
            time.sleep(0.005)
        driver.stop()
        worker.join(60)
        assert not worker.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], JobCancelled), outcome
        assert driver.depth("v") == 2, "a cancelled flatten leaves the chain as it was"
        top = self.active_file(driver, "v")
        info = subprocess.run(["qemu-img", "info", "-U", str(top)], capture_output=True, text=True, check=True)
        assert "backing file" in info.stdout
        out = qemu_io(top, "read -P 0x5a 0 8M", "read -P 0 8M 8M", read_only=True)
        assert "read 8388608/8388608" in out

    def test_a_swap_leaves_no_node_of_a_swapped_volume_open(self, driver: LocalDriver, write: Write,
                                                             read: Read) -> None:
        """The daemon's nodes are named after layers: a swap closes both volumes' chains first,
        so serving the volume afterwards opens its new chain (not the old one left open)."""
        vid, replacement, keep, snap = self.prepared(driver, write)
        driver.initialize_connection(replacement, writable=False)  # its chain open in the daemon ...
        driver.terminate_connection(replacement)
        driver.graph.open([vid])  # ... and the volume's, as a snapshot leaves it
        driver.swap_in(vid, replacement, keep)
        assert driver.daemon_nodes() == driver.graph.nodes
        assert not {layer.node for v in (vid, keep) for layer in driver.chain(v)[:1]} & driver.graph.nodes
        info = driver.initialize_connection(vid, writable=True)
        assert driver.chain(vid)[0].node in driver.graph.nodes, info
        driver.terminate_connection(vid)
        driver.delete_group_snapshot(snap)
        driver.delete_volume(keep)
        assert read(vid, 0, BLOCK) == block(b"n")
        assert driver.daemon_nodes() == driver.graph.nodes
