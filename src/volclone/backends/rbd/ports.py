"""The RBD side of cross-backend copies: an image read as of a group snapshot, a new image written.

Both hold one open ``rbd.Image``; librbd serves reads and writes from several threads at
once and the bindings release the GIL while they wait. Errors are translated by the
driver's ``_ceph`` context (passed in as ``translate``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from volclone.backends.base import VolumeReader, VolumeWriter

#: ``translate(doing)``: a context that turns librbd/librados errors into BackendError.
Translate = Callable[[str], AbstractContextManager[None]]


class RbdReader(VolumeReader):
    """An image as of one of its snapshots (by id: group snapshots have no usable name)."""

    def __init__(self, rbd: Any, ioctx: Any, name: str, snap_id: int, translate: Translate) -> None:
        self._rbd = rbd
        self._translate = translate
        self.name = name
        with translate(f"opening {name} at snapshot {snap_id}"):
            self._image = rbd.Image(ioctx, name, read_only=True)
            try:
                self._image.set_snap_by_id(snap_id)
                self.size = int(self._image.size())
                # With a valid fast-diff map, whole objects come from the object map at once;
                # without one, librbd asks every object, which gives exact extents anyway.
                self._whole_object = bool(self._image.features() & rbd.RBD_FEATURE_FAST_DIFF)
            except BaseException:
                self._image.close()
                raise

    def extents(self) -> Iterator[tuple[int, int]]:
        found: list[tuple[int, int]] = []

        def heard(offset: int, length: int, exists: bool) -> int:
            if exists:
                if found and found[-1][0] + found[-1][1] == offset:
                    found[-1] = (found[-1][0], found[-1][1] + length)
                else:
                    found.append((offset, length))
            return 0

        with self._translate(f"listing the data of {self.name}"):
            self._image.diff_iterate(0, self.size, None, heard, include_parent=True,
                                     whole_object=self._whole_object)
        return iter(found)

    def read(self, offset: int, length: int) -> bytes:
        with self._translate(f"reading {self.name}"):
            return bytes(self._image.read(offset, length))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._image.close()


class RbdWriter(VolumeWriter):
    """Writes image ``partial``, renamed to ``final`` on commit (so ``final`` is always whole)."""

    def __init__(self, rbd: Any, ioctx: Any, partial: str, final: str, size: int, translate: Translate,
                 remove: Callable[[str], None]) -> None:
        self._rbd = rbd
        self._io = ioctx
        self._translate = translate
        self._remove = remove
        self.partial, self.final = partial, final
        self._lock = threading.Lock()
        self._done = False
        remove(partial)  # left by a crash
        with translate(f"creating {partial}"):
            rbd.RBD().create(ioctx, partial, size, old_format=False)
            try:
                self._image: Any = rbd.Image(ioctx, partial)
            except BaseException:
                rbd.RBD().remove(ioctx, partial)
                raise

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        with self._translate(f"writing {self.partial}"):
            self._image.write(bytes(data), offset)

    def commit(self) -> None:
        with self._lock, self._translate(f"completing {self.final}"):
            assert not self._done
            self._image.flush()
            self._image.close()
            self._image = None
            self._rbd.RBD().rename(self._io, self.partial, self.final)
            self._done = True

    def abort(self) -> None:
        with self._lock:
            if self._done:
                return
            if self._image is not None:
                with contextlib.suppress(Exception):
                    self._image.close()
                self._image = None
            self._remove(self.partial)
            self._done = True
