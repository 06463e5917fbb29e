"""Attachments survive restarts: after a restart of the service or of its qemu-storage-daemon
(gently or by kill -9), every attached volume is served again at the same address, in the
same mode, and no write the consumer had flushed is lost. The daemon outlives the service,
so a restart of the service alone does not even cut the consumer's connection.

A writer thread writes distinct 64 KiB blocks, flushing after each, and records a block
only once its flush returned. After the crash, the whole volume's checksum read over NBD
must equal the checksum of the recorded blocks; the one write in flight at the crash may
have landed or not, so it is resolved by reading it back first.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import nbd
import pytest

from api.support import unique
from conftest import Env, _start

from .support import MV, Model, attach, block, connect, digest, exports, offset_of, opened, unreachable, uri_of

#: How long an export may take to come back after a crash.
BACK_WITHIN = 15.0


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A server of this module's own: its tests restart and kill it."""
    e = _start(tmp_path_factory.mktemp("attach-recovery"))
    yield e
    e.server.close()


def attached(env: Env, mode: str = "rw") -> tuple[dict, dict]:  # type: ignore[type-arg]
    """A new volume, attached in ``mode`` and completed (in-use)."""
    v = env.user.create_volume(1, name=unique("rec"))
    a = attach(env.user, v["id"], mode)
    a = env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)["attachment"]
    return v, a


def daemon_pid(env: Env) -> int:
    return int((Path(env.server.data_dir) / "run" / "qsd.pid").read_text().strip())


class Writer(threading.Thread):
    """Writes block after block to ``uri`` with a flush after each, until stopped or cut off."""

    def __init__(self, uri: str, model: Model, first: int, limit: int = 4000) -> None:
        super().__init__(daemon=True)
        self.uri, self.model, self.first, self.limit = uri, model, first, limit
        self.flushed = 0
        self.in_flight: tuple[int, bytes] | None = None
        self.error: Exception | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        h = connect(self.uri)
        try:
            for i in range(self.first, self.first + self.limit):
                if self.halt.is_set():
                    return
                self.in_flight = (offset_of(i), block(i))
                h.pwrite(self.in_flight[1], self.in_flight[0])
                h.flush()
                self.model.blocks[self.in_flight[0]] = self.in_flight[1]  # acknowledged: must survive
                self.in_flight = None
                self.flushed += 1
        except nbd.Error as exc:
            self.error = exc

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.flushed < count:
            assert self.error is None, f"the writer failed early: {self.error}"
            assert time.monotonic() < deadline, f"only {self.flushed} writes in {timeout}s"
            time.sleep(0.005)

    def cut_off(self) -> None:
        """Wait until the crash reached the writer (its connection broke)."""
        self.join(BACK_WITHIN)
        assert not self.is_alive(), "the writer was not cut off"
        assert self.error is not None or self.flushed == self.limit


def check_survived(uri: str, writer: Writer) -> None:
    """The export is back at ``uri`` and holds every flushed write, and nothing else."""
    with opened(uri, timeout=BACK_WITHIN) as h:
        if writer.in_flight is not None:  # landed or not: either is correct
            offset, data = writer.in_flight
            now = h.pread(len(data), offset)
            assert now in (data, writer.model.blocks.get(offset, bytes(len(data)))), "a torn block"
            writer.model.blocks[offset] = bytes(now)
        assert digest(h) == writer.model.digest(), "a flushed write was lost (or something else changed)"


def still_works(env: Env, a: dict, model: Model, seed: int) -> None:  # type: ignore[type-arg]
    """The attachment is unchanged in the API and its export takes new writes."""
    again = env.user.ok("GET", f"/attachments/{a['id']}", headers=MV)["attachment"]
    assert again["status"] == "attached" and again["connection_info"] == a["connection_info"]
    assert env.user.ok("GET", f"/volumes/{a['volume_id']}")["volume"]["status"] == "in-use"
    with opened(uri_of(a), timeout=BACK_WITHIN) as h:
        model.write(h, offset_of(seed), block(seed))
        assert digest(h) == model.digest()


def test_a_service_restart_serves_attachments_again_at_the_same_address(own):
    v, a = attached(own, "rw")
    ro_vol, ro = attached(own, "ro")
    reserved_vol = own.user.create_volume(1, name=unique("rec"))
    reserved = own.user.ok("POST", "/attachments", json={"attachment": {
        "volume_uuid": reserved_vol["id"], "instance_uuid": "i-1"}}, headers=MV)["attachment"]
    model = Model()
    with opened(uri_of(a)) as h:
        for i in range(10):
            model.write(h, offset_of(i), block(i))

    own.server.stop()
    own.server.start()

    assert own.user.ok("GET", f"/attachments/{ro['id']}", headers=MV)["attachment"] == ro
    with opened(uri_of(a)) as h:  # no waiting: served before the API answers
        assert digest(h) == model.digest()
    with opened(uri_of(ro)) as h:
        assert h.is_read_only(), "a read-only attachment stays read-only"
    got = own.user.ok("GET", f"/attachments/{reserved['id']}", headers=MV)["attachment"]
    assert got["status"] == "reserved" and got["connection_info"] is None
    assert own.user.ok("GET", f"/volumes/{reserved_vol['id']}")["volume"]["status"] == "reserved"
    still_works(own, a, model, 9000)
    assert ro_vol and v


def test_kill_9_of_the_daemon_loses_no_flushed_write(own):
    _, a = attached(own, "rw")
    writer = Writer(uri_of(a), Model(), first=0)
    writer.start()
    writer.wait_for(50)
    old = daemon_pid(own)
    os.kill(old, signal.SIGKILL)
    writer.cut_off()
    check_survived(uri_of(a), writer)
    assert daemon_pid(own) != old, "a new daemon serves the export"
    still_works(own, a, writer.model, 9001)


@pytest.mark.parametrize("kill", [True, False], ids=["kill-9", "sigterm"])
def test_a_writer_keeps_writing_across_a_restart_of_the_service(own, kill):
    """The daemon outlives the service, and the next start takes it over: the writer's
    connection is never cut, none of its writes fails, and none of its flushed writes is lost."""
    _, a = attached(own, "rw")
    pid = daemon_pid(own)
    writer = Writer(uri_of(a), Model(), first=0, limit=100_000)
    writer.start()
    writer.wait_for(50)
    own.server.stop(kill=kill)
    writer.wait_for(writer.flushed + 50)  # served while no service runs
    own.server.start()
    writer.wait_for(writer.flushed + 50)  # and after the start
    assert writer.error is None and writer.is_alive(), f"the writer was cut off: {writer.error}"
    assert daemon_pid(own) == pid, "the same daemon serves on"
    writer.halt.set()
    writer.join(BACK_WITHIN)
    assert writer.error is None and not writer.is_alive()
    check_survived(uri_of(a), writer)
    still_works(own, a, writer.model, 9002)
    assert exports(own.server) == sorted(f"{'w' if m == 'rw' else 'r'}-{v}" for v, m in own.server.db_rows(
        "SELECT volume_id, mode FROM attachments WHERE status != 'reserved'"))


def test_a_restart_stops_serving_a_volume_whose_attachment_went_meanwhile(own):
    """What the daemon served for an attachment that is no longer recorded (here: deleted
    behind the service's back while it was down) is not served after the start."""
    v, a = attached(own, "rw")
    own.server.stop(kill=True)
    assert own.server.db_execute("DELETE FROM attachments WHERE id = ?", a["id"]) == 1
    own.server.start()
    assert f"w-{v['id']}" not in exports(own.server)
    assert unreachable(uri_of(a))


def test_kill_9_of_both_loses_no_flushed_write(own):
    _, a = attached(own, "rw")
    writer = Writer(uri_of(a), Model(), first=0)
    writer.start()
    writer.wait_for(50)
    own.server.stop(kill=True)
    os.kill(daemon_pid(own), signal.SIGKILL)
    writer.cut_off()
    own.server.start()
    check_survived(uri_of(a), writer)
    still_works(own, a, writer.model, 9003)
