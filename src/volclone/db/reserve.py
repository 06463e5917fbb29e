"""Room kept for the database on the data directory's filesystem.

When that filesystem fills up (the local pool usually lives on it), SQLite can't even
open the database (WAL mode makes ``-wal`` and ``-shm`` files), so the service could
not start to delete the volumes that would make room. A few MiB are kept allocated in
a reserve file; a starting service lets them go before it opens the database, and takes
them back once the filesystem has room to spare again::

    reserve = SpaceReserve(data_dir / "space-reserve")
    reserve.release()     # before the database opens
    reserve.restore()     # after the start: only when the room is there
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

#: Enough for SQLite's WAL and shared memory and the writes of a few hundred deletes.
RESERVE_BYTES = 16 * 1024 * 1024


class SpaceReserve:
    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = Path(path)
        self.size = size

    def release(self) -> bool:
        """Give the reserved room back to the filesystem; returns whether there was any."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def restore(self) -> bool:
        """Reserve the room again, unless the filesystem is short of it (then taking it
        would just fill the disk again); returns whether the reserve is in place."""
        if self.path.exists() and self.path.stat().st_blocks * 512 >= self.size:
            return True
        free = shutil.disk_usage(self.path.parent).free
        if free < 4 * self.size:
            log.warning("%s has %d MiB free: no room is reserved for the database until it has %d MiB",
                        self.path.parent, free >> 20, (4 * self.size) >> 20)
            return False
        tmp = self.path.with_name(self.path.name + ".new")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
            tmp.replace(self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                return False
            raise
        return True
