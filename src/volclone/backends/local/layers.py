"""The local pool's bookkeeping: which qcow2 layer backs which, and who holds each.

The driver owns the files; a :class:`LayerStore` (implemented on SQL by
``volclone.db.layers`` and wired in ``bootstrap``) owns the records. A layer's
references are derived, never counted by hand: the volume whose active layer it
is, the layers whose backing it is, and the group snapshots that hold it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


def new_layer_id() -> str:
    return secrets.token_hex(10)


@dataclass(frozen=True)
class Layer:
    id: str
    parent_id: str | None = None
    volume_id: str | None = None  # set on the active (writable) layer of a volume

    @property
    def node(self) -> str:
        """The layer's node name in the daemon (stable: derived from the id)."""
        return f"l{self.id}"


class LayerStore(Protocol):
    def top(self, volume_id: str) -> Layer | None:
        """The active layer of a volume."""

    def get(self, layer_id: str) -> Layer | None: ...

    def chain(self, volume_id: str) -> list[Layer]:
        """A volume's layers, active layer first."""

    def children(self, layer_id: str) -> list[Layer]: ...

    def held_by(self, layer_id: str) -> list[str]:
        """Ids of the group snapshots that hold this layer."""

    def all_ids(self) -> set[str]:
        """Every layer id of this backend."""

    def add(self, layers: list[Layer]) -> None: ...

    def freeze(self, snapshot_id: str, overlays: Mapping[str, Layer],
               targets: Mapping[str, Layer] | None = None) -> None:
        """Record a group snapshot, atomically: for each volume of ``overlays``, its
        active layer becomes frozen and held by ``snapshot_id`` and ``overlays[volume]``
        (whose parent is that layer) becomes the volume's active layer; each layer of
        ``targets`` (a full copy of that volume) is added, held by the snapshot."""

    def adopt(self, layer_id: str, volume_id: str | None) -> None:
        """An unowned layer becomes the active layer of ``volume_id`` (None: of nobody)."""

    def holds(self, snapshot_id: str) -> dict[str, str]:
        """volume id -> frozen layer id held by this snapshot."""

    def release(self, snapshot_id: str) -> None:
        """Drop all holds of a snapshot."""

    def split(self, snapshot_id: str, names: Mapping[str, str]) -> None:
        """Atomically: the hold of ``snapshot_id`` on each volume ``v``'s layer becomes the hold
        of snapshot ``names[v]`` (one group snapshot becomes one snapshot per member)."""

    def remove(self, layer_id: str) -> None: ...

    def replace_top(self, volume_id: str, layer: Layer) -> None:
        """Atomically: the volume's active layer becomes unowned and ``layer`` (new) becomes it."""

    def set_parent(self, layer_id: str, parent_id: str | None) -> None: ...

    def merge_into_parent(self, layer_id: str) -> None:
        """Atomically: the layer's parent becomes its volume's active layer and the layer's record goes."""
