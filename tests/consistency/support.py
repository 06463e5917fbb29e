"""What the consistency tests share: a counter writer on NBD attachments, reading clones, chain depth.

A :class:`Writer` is the consumer of attached volumes: for n = 1, 2, ... it writes n
(8 bytes, big-endian) at offset 0 of each volume in order, flushing after each write,
through the volumes' read-write NBD exports, the way a VM's guest would. It may also
write n into one of :data:`SLOTS` rotating blocks of the first volume first, so a
clone holds more than one value that must agree with its counter.

A crash-consistent copy of the volumes is a prefix of that sequence: their counters
read A >= B >= ... >= A - 1 (:func:`consistent`).

Clones are detached, so their files are closed in the server's daemon: they are read
with ``qemu-io -r -U`` on their active file. The background flatten may rewrite or
remove a clone's layers meanwhile (their data stays the same), so a read that finds a
layer gone is retried on the clone's current active file.
"""

from __future__ import annotations

import itertools
import re
import struct
import subprocess
import threading
import time
from typing import Any

import nbd

from attach.support import MV, attach, connect, opened, uri_of

COUNTER = struct.Struct(">Q")
BLOCK = 64 * 1024
#: Rotating blocks the writer can also put its counter in: n goes to slot n % SLOTS.
SLOTS = 16
SLOT_BASE = 1024 * 1024


def slot_offset(j: int) -> int:
    return SLOT_BASE + j * BLOCK


def consistent(values: list[int]) -> bool:
    """Whether counters read in write order are a prefix of the writer's sequence:
    A >= B >= ... >= A - 1 (for two volumes: A == B or A == B + 1)."""
    return all(x >= y for x, y in itertools.pairwise(values)) and values[-1] >= values[0] - 1


def attach_in_use(api: Any, volume_id: str) -> str:
    """Attach read-write and complete the attachment (the volume goes in-use); the NBD URI."""
    a = attach(api, volume_id, "rw")
    api.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)
    return uri_of(a)


class Writer(threading.Thread):
    """Writes n at offset 0 of each volume in order (flush after each write), n = 1, 2, ...

    ``done`` is the last n written and flushed to every volume; any value a clone of
    the volumes holds at offset 0 is at least ``done`` as read before the clone request
    and at most ``done + 1`` as read after it ended. With ``slots``, n also goes to
    slot n % SLOTS of the first volume, written and flushed before the counters.
    """

    def __init__(self, uris: list[str], slots: bool = False) -> None:
        super().__init__(daemon=True, name="counter-writer")
        self.handles = [connect(u) for u in uris]
        self.slots = slots
        self.done = 0
        self.longest_op_s = 0.0
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def _op(self, h: nbd.NBD, data: bytes, offset: int) -> None:
        t0 = time.perf_counter()
        h.pwrite(data, offset)
        h.flush()
        self.longest_op_s = max(self.longest_op_s, time.perf_counter() - t0)

    def run(self) -> None:
        try:
            for n in itertools.count(1):
                if self._halt.is_set():
                    return
                data = COUNTER.pack(n)
                if self.slots:
                    self._op(self.handles[0], data, slot_offset(n % SLOTS))
                for h in self.handles:
                    self._op(h, data, 0)
                self.done = n
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def wait_for(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.done < n:
            assert self.error is None and time.monotonic() < deadline, f"the writer is stuck: {self.error!r}"
            time.sleep(0.01)

    def stop(self) -> int:
        """Stop and disconnect; raises if any write or flush failed. Returns ``done``."""
        self._halt.set()
        self.join(30)
        assert not self.is_alive(), "the writer did not stop"
        for h in self.handles:
            try:
                h.shutdown()
            except nbd.Error:
                pass
        self.handles.clear()
        if self.error is not None:
            raise AssertionError(f"the writer's I/O failed after n = {self.done}: {self.error!r}") from self.error
        return self.done


# -- reading clones ------------------------------------------------------------------
_HEX_LINE = re.compile(r"^([0-9a-f]{8}):\s+((?:[0-9a-f]{2} ){8})")


def read_u64s(server: Any, volume_id: str, offsets: list[int], attempts: int = 20) -> list[int]:
    """The 8-byte big-endian values at ``offsets`` of a detached volume, read from its files."""
    cmds = list(itertools.chain.from_iterable(("-c", f"read -v {off} 8") for off in offsets))
    out = ""
    for _ in range(attempts):
        image = server.active_file(volume_id)
        r = subprocess.run(["qemu-io", "-r", "-U", "-f", "qcow2", str(image), *cmds],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        values = {}
        for line in r.stdout.splitlines():
            m = _HEX_LINE.match(line)
            if m:
                values[int(m.group(1), 16)] = int(m.group(2).replace(" ", ""), 16)
        if r.returncode == 0 and all(off in values for off in offsets):
            return [values[off] for off in offsets]
        time.sleep(0.05)  # a layer went away under us (background flatten): read again
    raise AssertionError(f"reading volume {volume_id} failed:\n{out}")


def read_u64s_nbd(uri: str, offsets: list[int]) -> list[int]:
    """The 8-byte big-endian values at ``offsets`` of an attached volume, read through its export."""
    with opened(uri) as h:
        return [COUNTER.unpack(h.pread(COUNTER.size, off))[0] for off in offsets]


def read_counter(server: Any, volume_id: str) -> int:
    return read_u64s(server, volume_id, [0])[0]


# -- chains ----------------------------------------------------------------------------
def depth(server: Any, volume_id: str) -> int:
    """How many layers a volume's reads go through: its active layer and every parent, from the records."""
    rows = server.db_rows("SELECT id, parent_id, volume_id FROM layers")  # one query: one state
    parents = {r[0]: r[1] for r in rows}
    [layer] = [r[0] for r in rows if r[2] == volume_id]
    n = 0
    while layer is not None:
        n += 1
        layer = parents[layer]
    return n
