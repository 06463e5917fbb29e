"""qcow2 image files, made and merged with qemu-img (offline: the daemon has them closed)."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from volclone.errors import BackendError, InsufficientStorage

log = logging.getLogger(__name__)

QCOW2_MAGIC = b"QFI\xfb"


def virtual_size(path: Path) -> int:
    """A qcow2 image's virtual size in bytes, read from its header (no subprocess)."""
    with open(path, "rb") as f:
        header = f.read(32)
    if len(header) < 32 or header[:4] != QCOW2_MAGIC:
        raise BackendError(f"{path.name} is not a qcow2 image")
    (size,) = struct.unpack(">Q", header[24:32])
    return int(size)


#: errno values of a full filesystem, and how qemu-img reports them.
_FULL = {errno.ENOSPC, errno.EDQUOT}
_FULL_TEXT = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
POOL_FULL = "the storage pool is full: delete volumes or snapshots to make room"


def translate(exc: OSError, doing: str) -> BackendError:
    """An OSError on a pool file as the BackendError to raise (:class:`InsufficientStorage`
    when the filesystem is full); the message names no path."""
    log.error("%s: %s", doing, exc)
    if exc.errno in _FULL:
        return InsufficientStorage(POOL_FULL)
    return BackendError(f"{doing}: {exc.strerror or exc}")


#: Full copies land in 2 MiB clusters (64 KiB subclusters keep small writes small): with
#: copy offload, 5-10x the throughput of 64 KiB clusters (measured, docs/measurements.md).
COPY_TARGET_OPTIONS = "cluster_size=2M,extended_l2=on"


def create_commands(path: Path, size: int, backing: Path | None = None, options: str | None = None) -> list[str]:
    """The qemu-img command that makes an image (an overlay when ``backing`` is given).

    The backing file is named relative to the pool, so the pool can move. ``-u``
    keeps qemu-img from opening the backing file, which the daemon may hold.
    """
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if options:
        cmd += ["-o", options]
    if backing is not None:
        cmd += ["-u", "-b", backing.name, "-F", "qcow2"]
    return cmd + [str(path), str(size)]


def run_all(commands: Iterable[list[str]], at_once: int = 2 * (os.cpu_count() or 1)) -> None:
    """Run qemu-img commands side by side, ``at_once`` at a time (fifty at once starve the
    daemon's I/O of CPU on a small machine); raise if any failed, after all have run."""
    errors = []
    pending = list(commands)
    while pending:
        batch, pending = pending[:at_once], pending[at_once:]
        procs = [(cmd, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)) for cmd in batch]
        for cmd, proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                errors.append(f"{' '.join(cmd[:2])} {Path(cmd[-2]).name}: {err.decode(errors='replace').strip()}")
    if errors:
        log.error("qemu-img failed: %s", "; ".join(errors))  # whole, for the operator
        if any(text in e for e in errors for text in _FULL_TEXT):
            raise InsufficientStorage(POOL_FULL)
        raise BackendError("; ".join(errors))  # BackendError cuts the paths off


def flush_to_disk(paths: Iterable[Path], at_once: int = 16) -> None:
    """fdatasync files side by side. Before a group snapshot: the daemon flushes each old
    top inside the transaction, one after the other, while writers wait; what is already
    on disk makes those flushes shorter (stalls ~2.5x shorter under unflushed writes,
    docs/measurements-issue3.md)."""
    def one(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    paths = list(paths)
    if paths:
        with ThreadPoolExecutor(min(at_once, len(paths))) as pool:
            list(pool.map(one, paths))


def allocated(path: Path) -> int:
    """The bytes of data an image reads from its whole chain: ``qemu-img map``'s ranges that
    hold data and are not zeros. ``-U``: the daemon may have the chain open (nothing is written)."""
    cmd = ["qemu-img", "map", "-U", "--output=json", "-f", "qcow2", str(path)]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if proc.returncode != 0:
        log.error("qemu-img map %s failed: %s", path, proc.stderr.decode(errors="replace").strip())
        raise BackendError(f"qemu-img map {path.name} failed")
    return sum(int(e["length"]) for e in json.loads(proc.stdout) if e.get("data") and not e.get("zero"))


def commit(path: Path) -> None:
    """Write an overlay's data into its backing file (the overlay is left as it was)."""
    run_all([["qemu-img", "commit", "-q", "-d", "-f", "qcow2", str(path)]])


def resize(path: Path, size: int) -> None:
    """Grow an image to ``size`` bytes (the daemon has it closed). An overlay may grow past its
    backing file: the range the backing lacks reads as zeros."""
    run_all([["qemu-img", "resize", "-q", "-f", "qcow2", str(path), str(size)]])


def make_standalone(path: Path) -> None:
    """Copy into an overlay everything it reads from its backing chain, then drop the backing.

    Safe if interrupted: the backing file name is cleared only at the end.
    """
    run_all([["qemu-img", "rebase", "-q", "-f", "qcow2", "-b", "", str(path)]])


#: ioctl(dest_fd, FICLONE, src_fd): share all of src's blocks with dest (linux/fs.h).
FICLONE = 0x40049409
_NO_REFLINK = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}


def reflink(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of ``src`` that shares its blocks (XFS with reflink=1, btrfs).

    Instant whatever the size; the two files diverge block by block as either is written.
    """
    try:
        with open(src, "rb") as s, open(dst, "xb") as d:
            try:
                fcntl.ioctl(d.fileno(), FICLONE, s.fileno())
            except OSError:
                dst.unlink(missing_ok=True)
                raise
    except OSError as exc:
        raise translate(exc, f"reflink of {src.name}") from None


def can_reflink(directory: Path) -> bool:
    """Whether files in ``directory`` can be reflinked (tried on two scratch files).

    On a full filesystem the probe can't be made: False (linked clones work anywhere),
    so that the service still starts and serves the deletes that make room.
    """
    try:
        return _probe_reflink(directory)
    except OSError as exc:
        if exc.errno in _FULL:
            log.warning("the pool is full: can't probe it for reflink; clones are linked qcow2 files")
            return False
        raise


def _probe_reflink(directory: Path) -> bool:
    fd, name = tempfile.mkstemp(dir=directory, prefix=".reflink-probe-")
    src = Path(name)
    dst = src.with_suffix(".copy")
    try:
        try:
            os.write(fd, b"volclone")
        finally:
            os.close(fd)
        with open(src, "rb") as s, open(dst, "wb") as d:
            fcntl.ioctl(d.fileno(), FICLONE, s.fileno())
        return True
    except OSError as exc:
        if exc.errno in _NO_REFLINK:
            return False
        raise
    finally:
        src.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
