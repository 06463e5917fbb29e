"""The local pool's side of cross-backend copies: frozen layers read, new volumes written, over NBD.

Each reader or writer is a private ``qemu-nbd`` that libnbd starts with systemd socket
activation (no TCP port, no socket file) and that exits when the handle goes:

* a reader serves a snapshot's frozen layer, read-only and with ``force-share`` (the
  pool's daemon may hold the chain open, e.g. for an attached source), and its
  ``base:allocation`` block status tells which ranges hold data anywhere in the chain;
* a writer serves a new qcow2 file that has no layer record yet; the record is made on
  commit, so until then the volume does not exist, and a file left by a crash is an
  orphan that the driver removes at its next start.

A frozen layer never changes while a group snapshot holds it (nothing is committed into a
held layer), so reading its file outside the daemon is safe. The driver hands out these
readers and writers (``open_snapshot_member``, ``import_volume``); nothing here knows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from volclone.backends.base import VolumeReader, VolumeWriter
from volclone.backends.local import images
from volclone.errors import BackendError

log = logging.getLogger(__name__)

QEMU_NBD = "qemu-nbd"
#: base:allocation flags (NBD protocol).
STATE_HOLE, STATE_ZERO = 1, 2
#: The most one block-status request asks about.
_STATUS_SPAN = 1 << 30


def _nbd() -> Any:
    try:
        import nbd
    except ImportError as exc:
        raise BackendError(f"cross-backend copies of local volumes need libnbd's Python bindings "
                           f"(apt-get install python3-libnbd): {exc}") from exc
    return nbd


def _image_opts(path: Path, read_only: bool) -> str:
    """qemu's ``--image-opts`` for a qcow2 file (commas in a value are doubled)."""
    opts = f"driver=qcow2,file.driver=file,file.filename={str(path).replace(',', ',,')}"
    return opts + (",read-only=on,force-share=on" if read_only else "")


class _Connection:
    """One libnbd handle on a private qemu-nbd."""

    def __init__(self, path: Path, read_only: bool) -> None:
        nbd = _nbd()
        self.error = nbd.Error
        self.handle = nbd.NBD()
        if read_only:
            self.handle.add_meta_context("base:allocation")
        argv = [QEMU_NBD, "--image-opts", _image_opts(path, read_only), "--cache=writeback"]
        if read_only:
            argv.insert(1, "--read-only")
        try:
            self.handle.connect_systemd_socket_activation(argv)
        except nbd.Error as exc:
            raise BackendError(f"qemu-nbd could not serve {path.name}: {exc}") from None

    def close(self) -> None:
        """Disconnect; libnbd reaps the qemu-nbd, which exits on the disconnect."""
        handle, self.handle = self.handle, None
        if handle is None:
            return
        try:
            handle.shutdown()
        except self.error as exc:
            log.debug("NBD shutdown: %s", exc)
        del handle


class LocalReader(VolumeReader):
    def __init__(self, path: Path) -> None:
        self._conn = _Connection(path, read_only=True)
        self.size = int(self._conn.handle.get_size())

    def extents(self) -> Iterator[tuple[int, int]]:
        handle, offset = self._conn.handle, 0
        run: list[int] | None = None  # [offset, length] of the data run being merged
        while offset < self.size:
            found: list[tuple[int, int]] = []

            def heard(context: str, _offset: int, entries: list[int], _err: Any,
                      found: list[tuple[int, int]] = found) -> int:
                if context == "base:allocation":
                    found.extend(zip(entries[::2], entries[1::2], strict=True))
                return 0

            try:
                handle.block_status(min(self.size - offset, _STATUS_SPAN), offset, heard)
            except self._conn.error as exc:
                raise BackendError(f"NBD block status at {offset}: {exc}") from None
            if not found:
                raise BackendError(f"NBD block status at {offset} said nothing")
            for length, flags in found:
                length = min(length, self.size - offset)
                if not flags & STATE_ZERO:
                    if run is not None and run[0] + run[1] == offset:
                        run[1] += length
                    else:
                        if run is not None:
                            yield run[0], run[1]
                        run = [offset, length]
                offset += length
                if offset >= self.size:
                    break
        if run is not None:
            yield run[0], run[1]

    def read(self, offset: int, length: int) -> bytes:
        try:
            return bytes(self._conn.handle.pread(length, offset))
        except self._conn.error as exc:
            raise BackendError(f"NBD read of {length} bytes at {offset}: {exc}") from None

    def close(self) -> None:
        self._conn.close()


class LocalWriter(VolumeWriter):
    """Fills a new qcow2 file at ``path``; :meth:`commit` calls ``record`` (which records it
    as the volume's active layer) once the data is on disk and the file closed."""

    def __init__(self, path: Path, size: int, record: Callable[[], None]) -> None:
        self.path = path
        self._record = record
        images.run_all([images.create_commands(self.path, size)])
        try:
            self._conn: _Connection | None = _Connection(self.path, read_only=False)
        except BaseException:
            self.path.unlink(missing_ok=True)
            raise
        self._done = False
        self._lock = threading.Lock()

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        assert self._conn is not None
        try:
            self._conn.handle.pwrite(bytes(data), offset)
        except self._conn.error as exc:
            raise BackendError(f"NBD write of {len(data)} bytes at {offset}: {exc}") from None

    def commit(self) -> None:
        with self._lock:
            assert self._conn is not None and not self._done
            try:
                self._conn.handle.flush()
            except self._conn.error as exc:
                raise BackendError(f"NBD flush of {self.path.name}: {exc}") from None
            self._conn.close()  # qemu-nbd has closed the file when this returns
            self._conn = None
            try:
                self._record()
            except BaseException:
                self.path.unlink(missing_ok=True)
                raise
            self._done = True

    def abort(self) -> None:
        with self._lock:
            if self._done:
                return
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self.path.unlink(missing_ok=True)
            self._done = True
