"""The local pool's qemu-storage-daemon outlives the driver that started it, and the next
driver in the same data directory takes it over (real daemon, real files, real SQLite).

The qemu-storage-daemon's own ``--pidfile`` is locked by the daemon while it runs: a new
daemon can only start once the old one has exited, which the driver must wait for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbd
import pytest

from conftest import free_port
from volclone.backends.local import images, qsd
from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.layers import Layer, new_layer_id
from volclone.db.database import Database, make_engine, migrate
from volclone.db.layers import SqlLayerStore

Make = Callable[[], LocalDriver]
BLOCK = 64 * 1024
GIB = 1024**3


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Make]:
    """Drivers over one data directory (as successive runs of the service would be)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
    migrate(engine)
    made: list[LocalDriver] = []

    def _make() -> LocalDriver:
        made.append(LocalDriver("local", pool_dir=tmp_path / "pool", run_dir=tmp_path / "run",
                                store=SqlLayerStore(Database(engine), "local", Layer),
                                nbd_port=free_port()))
        made[-1].nbd_port = made[0].nbd_port  # the same address across runs
        made[-1].start()
        return made[-1]

    yield _make
    for d in made:
        d.stop()
    engine.dispose()


def _exports(d: LocalDriver) -> list[str]:
    return sorted(e["id"] for e in d.daemon.execute("query-block-exports"))


def test_a_daemon_left_serving_is_taken_over_as_it_is(make: Make) -> None:
    first = make()
    for v in ("a", "b", "c"):
        first.create_volume(v, 1)
    first.initialize_connection("a", writable=True)
    first.initialize_connection("b", writable=False)
    pid = first.daemon.pid
    nodes = first.daemon_nodes()
    first.stop(keep_serving=True)
    assert pid is not None and Path(f"/proc/{pid}").exists(), "the daemon outlives its driver"

    second = make()
    assert second.daemon.pid == pid, "the running daemon was taken over, not replaced"
    assert _exports(second) == ["r-b", "w-a"]
    assert second.daemon_nodes() == nodes
    # The same connection again: nothing is re-exported (a client would be cut off).
    assert second.initialize_connection("a", writable=True)["data"]["export_name"] == "a"
    assert _exports(second) == ["r-b", "w-a"]
    # What no attachment claims any more is no longer served, and its nodes close.
    second.keep_only({"a"})
    assert _exports(second) == ["w-a"]
    assert second.daemon_nodes() == {second.store.top("a").node}  # type: ignore[union-attr]


def test_a_taken_over_daemon_loses_what_the_records_do_not_know(make: Make) -> None:
    """A node or job of a run that died mid-operation is closed or cancelled; an export of a
    node that is not the volume's active layer goes (the service serves it again if recorded)."""
    first = make()
    first.create_volume("a", 1)
    first.create_volume("b", 1)
    first.initialize_connection("a", writable=True)
    first.initialize_connection("b", writable=True)
    top = first.store.top("a")
    assert top is not None
    # a stream that was still running, and a node nobody recorded (e.g. an overlay being made)
    stray = first.pool / "stray.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(stray), "1G"], check=True)
    first.daemon.execute("blockdev-add", driver="qcow2", **{"node-name": "lstray"},
                         file={"driver": "file", "filename": str(stray)})
    first.daemon.execute("block-stream", **{"job-id": "stream-x", "device": top.node, "speed": 1,
                                            "auto-dismiss": False})
    # b's records move on without the daemon (as if the service died between the two)
    moved = Layer("moved0000000000000000", None, "b")
    first.store.remove(first.store.top("b").id)  # type: ignore[union-attr]
    first.store.add([moved])
    first.daemon.detach()  # the service dies: the daemon lives on

    second = make()
    assert second.daemon.execute("query-jobs") == []
    assert _exports(second) == ["w-a"]
    assert "lstray" not in second.daemon_nodes()
    assert second.daemon_nodes() == {top.node}


STALE = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)   # a daemon that hangs: SIGTERM does nothing
open(sys.argv[1], "w").write(str(os.getpid()))
while True:
    time.sleep(1)
"""


def test_a_hung_daemon_left_behind_is_gone_before_a_new_one_starts(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """It is killed, and waited for: the new daemon can lock its pid file only once the old
    process has exited (a SIGKILL is only sent, not yet acted on, when kill() returns)."""
    monkeypatch.setattr(qsd, "TERM_GRACE", 0.5)
    monkeypatch.setattr(qsd, "ADOPT_TIMEOUT", 0.5)
    run = tmp_path / "run"
    run.mkdir()
    daemon = qsd.StorageDaemon(run)
    # A process that looks like the daemon of this data directory (its command line names
    # the binary and our socket) but never answers QMP.
    stale = subprocess.Popen([sys.executable, "-c", STALE, str(daemon.pidfile), qsd.BINARY, str(daemon.socket)])
    deadline = time.monotonic() + 10
    while not daemon.pidfile.exists() or not daemon.pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    daemon.socket.touch()  # its socket "exists" but nobody listens
    left = daemon._left_behind()
    assert left is not None and left[0] == stale.pid
    daemon._stop_stale(*left)
    # Gone at once when _stop_stale returns (our child here, so a zombie until reaped).
    assert _state(stale.pid) in ("Z", None), "the stale daemon was still running"
    stale.wait(5)
    daemon.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_a_new_daemon_starts_after_a_hung_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qsd, "TERM_GRACE", 0.5)
    monkeypatch.setattr(qsd, "ADOPT_TIMEOUT", 0.5)
    run = tmp_path / "run"
    old = qsd.StorageDaemon(run)
    assert old.start() is False
    pid = old.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # hung: its monitor never answers
    old.detach()
    new = qsd.StorageDaemon(run)
    try:
        assert new.start() is False, "a hung daemon is replaced, not taken over"
        assert new.pid != pid
        assert new.execute("query-block-exports") == []
    finally:
        new.close()
        if _state(pid) not in ("Z", None):
            os.kill(pid, signal.SIGKILL)


# -- a run that died between recording a graph change and making it (or the other way round)
def _client(d: LocalDriver, volume_id: str) -> nbd.NBD:
    h = nbd.NBD()
    h.connect_uri(f"nbd://127.0.0.1:{d.nbd_port}/{volume_id}")
    return h


def _write(h: nbd.NBD, pattern: int, offset: int) -> None:
    h.pwrite(bytes([pattern]) * BLOCK, offset)
    h.flush()


def _reads(path: Path, pattern: int, offset: int) -> bool:
    out = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-U", "-c", f"read -P {pattern:#04x} {offset} {BLOCK}",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return "Pattern verification failed" not in out


def _export_nodes(d: LocalDriver) -> dict[str, str]:
    return {e["id"]: e["node-name"] for e in d.daemon.execute("query-block-exports")}


def test_a_snapshot_recorded_but_never_switched_is_switched_at_takeover(make: Make) -> None:
    first = make()
    clients = {}
    for v in ("a", "b"):
        first.create_volume(v, 1)
        first.initialize_connection(v, writable=True)
        clients[v] = _client(first, v)
        _write(clients[v], 0x11, 0)
    old = {v: first.store.top(v) for v in ("a", "b")}
    # The run records a group snapshot of both, then dies before its transaction.
    overlays = {v: Layer(new_layer_id(), old[v].id, v) for v in ("a", "b")}  # type: ignore[union-attr]
    images.run_all([images.create_commands(first.path(o.id), GIB, backing=first.path(old[v].id))  # type: ignore[union-attr]
                    for v, o in overlays.items()])
    first.store.freeze("s", overlays)
    first.daemon.detach()
    for h in clients.values():
        _write(h, 0x22, BLOCK)  # still into the old tops: nothing switched

    second = make()
    assert _export_nodes(second) == {"w-a": overlays["a"].node, "w-b": overlays["b"].node}
    for v, h in clients.items():
        _write(h, 0x33, 2 * BLOCK)  # the same connection, never cut
        path = second.path(old[v].id)  # type: ignore[union-attr]
        assert _reads(path, 0x11, 0) and _reads(path, 0x22, BLOCK), "the frozen layer has what came before"
        assert _reads(path, 0, 2 * BLOCK), "and nothing written after the switch"
        assert _reads(second.path(overlays[v].id), 0x33, 2 * BLOCK)
        h.shutdown()


def test_a_merge_the_daemon_completed_but_nobody_recorded_is_recorded_at_takeover(make: Make) -> None:
    first = make()
    first.create_volume("v", 1)
    first.initialize_connection("v", writable=True)
    h = _client(first, "v")
    _write(h, 0x11, 0)
    first.create_group_snapshot("s", ["v"])
    first.store.release("s")  # the snapshot goes (records only): its frozen layer has one user left
    top = first.store.top("v")
    assert top is not None and top.parent_id is not None
    parent = first.store.get(top.parent_id)
    assert parent is not None
    # The run merges the volume's top into it live, then dies before recording the merge.
    first.daemon.run_job("block-commit", f"commit-{top.id}", device=top.node, **{"base-node": parent.node})
    first.daemon.detach()
    _write(h, 0x22, BLOCK)  # into the parent now: the top's file is stale

    second = make()
    assert _export_nodes(second) == {"w-v": parent.node}
    top_now = second.store.top("v")
    assert top_now is not None and top_now.id == parent.id and top_now.parent_id is None
    assert not second.path(top.id).exists()
    _write(h, 0x33, 2 * BLOCK)  # the same connection, never cut
    assert bytes(h.pread(BLOCK, BLOCK)) == bytes([0x22]) * BLOCK
    assert _reads(second.path(parent.id), 0x11, 0) and _reads(second.path(parent.id), 0x33, 2 * BLOCK)
    h.shutdown()
