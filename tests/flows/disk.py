"""Looking at volume data from outside the server, with QEMU's own tools.

The server keeps a volume's files closed in its daemon while no clone is being
made, so ``qemu-io`` and ``qemu-img`` can open them directly:

* :func:`write` / :func:`expect` put and verify a byte pattern (``qemu-io -P``);
* :func:`digest` is a checksum of a volume's whole guest-visible content
  (``qemu-img convert -O raw`` into a sparse file, then SHA-256 of every
  non-zero 64 KiB block and its offset), independent of how the data is split
  across layers or which zero ranges are allocated;
* :func:`pool_state` / :func:`assert_pool_sane` look at the layer records and
  the pool directory together.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

BLOCK = 64 * 1024
_ZERO = bytes(BLOCK)


def qemu_io(image: Path, *commands: str) -> str:
    """Run qemu-io commands on a qcow2 file; fail on any error or pattern mismatch."""
    args = ["qemu-io", "-f", "qcow2", str(image)]
    for c in commands:
        args += ["-c", c]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Pattern verification failed" not in out, f"{' '.join(args)}:\n{out}"
    return out


def write(image: Path, pattern: int, offset: int | str = 0, length: int | str = "64k") -> None:
    qemu_io(image, f"write -P {pattern:#04x} {offset} {length}")


def expect(image: Path, *regions: tuple[int, int | str, int | str]) -> None:
    """Every ``(pattern, offset, length)`` region reads back as that pattern (0 for unwritten)."""
    qemu_io(image, *(f"read -P {p:#04x} {off} {length}" for p, off, length in regions))


def digest(image: Path) -> str:
    """A checksum of the guest-visible content of the volume whose active file is ``image``."""
    with tempfile.TemporaryDirectory(prefix="volclone-digest-") as tmp:
        raw = Path(tmp) / "raw"
        subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", str(image), str(raw)],
                       check=True, capture_output=True, timeout=120)
        return _digest_raw(raw)


def _digest_raw(raw: Path) -> str:
    h = hashlib.sha256()
    size = raw.stat().st_size
    h.update(size.to_bytes(8, "big"))
    with open(raw, "rb") as f:
        fd = f.fileno()
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                break
            end = os.lseek(fd, data, os.SEEK_HOLE)
            off = data - data % BLOCK
            f.seek(off)
            while off < end:
                block = f.read(BLOCK)
                if block != _ZERO[:len(block)]:
                    h.update(off.to_bytes(8, "big"))
                    h.update(block)
                off += BLOCK
            pos = off
    return h.hexdigest()


def info(image: Path) -> dict[str, Any]:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(image)],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)  # type: ignore[no-any-return]


# -- the pool as a whole ------------------------------------------------------
def pool_state(server: Any) -> tuple[set[tuple[str, str | None, str | None]], set[str]]:
    """(layer rows as (id, parent_id, volume_id), file names in the pool)."""
    rows = {(r[0], r[1], r[2]) for r in server.db_rows("SELECT id, parent_id, volume_id FROM layers")}
    return rows, server.pool_files()


def chain_files(server: Any, volume_id: str) -> list[Path]:
    """A volume's layer files, active layer first, from the layer records."""
    parents = dict(server.db_rows("SELECT id, parent_id FROM layers"))
    layer = server.db_rows("SELECT id FROM layers WHERE volume_id = ?", volume_id)[0][0]
    out = []
    while layer is not None:
        out.append(server.data_dir / "pool" / f"{layer}.qcow2")
        layer = parents[layer]
    return out


def assert_pool_sane(server: Any) -> None:
    """Records and files agree: each layer row has its file and each file a row; every file's
    backing file is its row's parent; every volume row has exactly one active layer; no
    group snapshot, no group and no daemon node is left over."""
    rows, files = pool_state(server)
    ids = {r[0] for r in rows}
    assert files == {f"{i}.qcow2" for i in ids}, (
        f"files without a row: {sorted(files - {f'{i}.qcow2' for i in ids})}; "
        f"rows without a file: {sorted(i for i in ids if f'{i}.qcow2' not in files)}")
    for layer_id, parent_id, _ in rows:
        backing = info(server.data_dir / "pool" / f"{layer_id}.qcow2").get("backing-filename")
        assert backing == (f"{parent_id}.qcow2" if parent_id else None), (layer_id, parent_id, backing)
    volumes = {r[0] for r in server.db_rows("SELECT id FROM volumes")}
    active = [r[2] for r in rows if r[2] is not None]
    assert sorted(active) == sorted(volumes), "every volume has exactly one active layer and no more"
    assert server.db_rows("SELECT * FROM snapshot_members") == []
    assert server.db_rows("SELECT * FROM volume_groups") == []
    assert server.daemon_nodes() == []
