"""What the attachment tests share: microversioned requests, NBD I/O, checksums, footprints.

Volume data is read and written through the attachment's own NBD export with
python3-libnbd (a Debian package; the venv sees the system site-packages), the
way a consumer would. :func:`digest` is a checksum of a volume's whole content
as read over NBD; :class:`Model` computes the same checksum of what the tests
wrote, so the two compare directly.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import nbd

from api.support import footprint

#: Attachments need microversion 3.27 (Cinder's NEW_ATTACH); os-complete 3.44, the body's mode 3.54.
MV = {"OpenStack-API-Version": "volume 3.54"}
BLOCK = 64 * 1024
GIB = 1024**3


def attach(api: Any, volume_id: str, mode: str = "rw", instance: str | None = None,
           connector: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST /attachments with a connector (so the volume is served at once); the attachment."""
    body = {"volume_uuid": volume_id, "instance_uuid": instance or str(uuid.uuid4()),
            "connector": connector if connector is not None else {"host": "test-host"}, "mode": mode}
    return api.ok("POST", "/attachments", json={"attachment": body}, headers=MV)["attachment"]  # type: ignore[no-any-return]


def detach(api: Any, attachment_id: str) -> dict[str, Any]:
    return api.ok("DELETE", f"/attachments/{attachment_id}", headers=MV)  # type: ignore[no-any-return]


def uri_of(attachment: dict[str, Any]) -> str:
    return str(attachment["connection_info"]["data"]["uri"])


def connect(uri: str, timeout: float = 0) -> nbd.NBD:
    """An NBD handle on ``uri``; retried for ``timeout`` seconds (an export coming back).

    While a restarted daemon re-adds its exports, a client can negotiate the metadata
    context before its export exists and be let in just after: a working connection without
    block status (a VM's QEMU would just read everything). We want block status, so we retry.
    """
    deadline = time.monotonic() + timeout
    while True:
        h = nbd.NBD()
        h.add_meta_context("base:allocation")
        try:
            h.connect_uri(uri)
            if h.can_meta_context("base:allocation") or time.monotonic() >= deadline:
                return h
            h.shutdown()
        except nbd.Error:
            if time.monotonic() >= deadline:
                raise
        del h  # libnbd closes a handle when it is collected
        time.sleep(0.05)


@contextmanager
def opened(uri: str, timeout: float = 0) -> Iterator[nbd.NBD]:
    h = connect(uri, timeout)
    try:
        yield h
    finally:
        try:
            h.shutdown()
        except nbd.Error:
            pass
        del h


def unreachable(uri: str) -> bool:
    """Connecting to ``uri`` fails (the export is gone)."""
    try:
        with opened(uri):
            return False
    except nbd.Error:
        return True


def block(seed: int) -> bytes:
    """64 KiB no other seed gives, never all zero."""
    return hashlib.sha256(seed.to_bytes(8, "big")).digest() * (BLOCK // 32)


def digest(h: nbd.NBD) -> str:
    """SHA-256 of the volume's size and of every non-zero 64 KiB block with its offset, read over NBD.

    Extents the server reports as zero are not read (they are zero by the protocol); all
    others are read and checked block by block, so the result does not depend on allocation.
    """
    size = h.get_size()
    extents: list[tuple[int, int]] = []  # (length, flags)

    def collect(context: str, offset: int, entries: list[int], err: Any) -> int:
        if context == nbd.CONTEXT_BASE_ALLOCATION:
            extents.extend((entries[i], entries[i + 1]) for i in range(0, len(entries), 2))
        return 0

    pos = 0
    while pos < size:
        before = len(extents)
        h.block_status(min(size - pos, 1 << 30), pos, collect)
        pos += sum(length for length, _ in extents[before:])
    out = hashlib.sha256(size.to_bytes(8, "big"))
    zero = bytes(BLOCK)
    pos, next_block = 0, 0
    for length, flags in extents:
        if not flags & nbd.STATE_ZERO:
            start = max(next_block, pos - pos % BLOCK)
            end = min(size, pos + length)
            for off in range(start, end, BLOCK):
                next_block = off + BLOCK
                data = h.pread(min(BLOCK, size - off), off)
                if data != zero[:len(data)]:
                    out.update(off.to_bytes(8, "big"))
                    out.update(data)
        pos += length
    return out.hexdigest()


class Model:
    """What a volume should hold: the blocks the tests wrote (everything else zero)."""

    def __init__(self, size: int = GIB, blocks: dict[int, bytes] | None = None) -> None:
        self.size = size
        self.blocks: dict[int, bytes] = dict(blocks or {})

    def write(self, h: nbd.NBD, offset: int, data: bytes, flush: bool = True) -> None:
        assert offset % BLOCK == 0 and len(data) == BLOCK
        h.pwrite(data, offset)
        if flush:
            h.flush()
        self.blocks[offset] = data

    def copy(self) -> Model:
        return Model(self.size, self.blocks)

    def digest(self) -> str:
        out = hashlib.sha256(self.size.to_bytes(8, "big"))
        for off in sorted(self.blocks):
            if any(self.blocks[off]):
                out.update(off.to_bytes(8, "big"))
                out.update(self.blocks[off])
        return out.hexdigest()


def offset_of(i: int) -> int:
    """Spread block ``i`` over the first GiB (distinct for i < 16384, never in order)."""
    return (i * 7919 % 16384) * BLOCK


# -- looking underneath -----------------------------------------------------------
def exports(server: Any) -> list[str]:
    """Export names the server's qemu-storage-daemon serves, asked over its observer QMP socket."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(str(server.data_dir / "run" / "qsd.qmp"))
    qmp.settimeout(10)
    qmp.connect()
    try:
        return sorted(e["id"] for e in qmp.cmd("query-block-exports"))
    finally:
        qmp.close()


def attach_footprint(server: Any) -> dict[str, Any]:
    """:func:`api.support.footprint` plus attachment rows, volume statuses and the daemon's exports."""
    return {**footprint(server),
            "attachments": server.db_rows("SELECT id, volume_id, status, mode FROM attachments ORDER BY id"),
            "exports": exports(server)}


@contextmanager
def changes_nothing(server: Any) -> Iterator[None]:
    before = attach_footprint(server)
    yield
    assert attach_footprint(server) == before


def call(server: Any, project: str, token: str | None, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    h = {**MV, **(headers or {}), **({"X-Auth-Token": token} if token else {})}
    return httpx.request(method, f"{server.url}/v3/{project}{path}", json=body, headers=h, timeout=30)
