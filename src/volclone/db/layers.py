"""The local pool's layer records on SQL (implements ``backends.local.layers.LayerStore``
structurally; this package never imports the backends)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import delete, literal, select, update
from sqlalchemy.orm import aliased

from volclone.db.database import Database
from volclone.db.schema import LayerRow, SnapshotMemberRow


class LayerLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def volume_id(self) -> str | None: ...


class SqlLayerStore:
    """Layer records of one backend; ``make`` builds the driver's own layer objects."""

    def __init__(self, db: Database, backend: str, make: Any) -> None:
        self.db = db
        self.backend = backend
        self.make = make

    def _out(self, row: LayerRow | None) -> Any:
        return None if row is None else self.make(row.id, row.parent_id, row.volume_id)

    def top(self, volume_id: str) -> Any:
        with self.db.session() as s:
            return self._out(s.scalar(select(LayerRow).where(
                LayerRow.backend == self.backend, LayerRow.volume_id == volume_id)))

    def chain(self, volume_id: str) -> list[Any]:
        """A volume's layers, active layer first, in one recursive query."""
        up = select(LayerRow.id, LayerRow.parent_id, LayerRow.volume_id, literal(0).label("depth")).where(
            LayerRow.backend == self.backend, LayerRow.volume_id == volume_id).cte("chain", recursive=True)
        parent = aliased(LayerRow)
        up = up.union_all(select(parent.id, parent.parent_id, parent.volume_id, (up.c.depth + 1).label("depth"))
                          .where(parent.id == up.c.parent_id))
        with self.db.session() as s:
            rows = s.execute(select(up.c.id, up.c.parent_id, up.c.volume_id).order_by(up.c.depth)).all()
            return [self.make(*r) for r in rows]

    def get(self, layer_id: str) -> Any:
        with self.db.session() as s:
            return self._out(s.get(LayerRow, layer_id))

    def children(self, layer_id: str) -> list[Any]:
        with self.db.session() as s:
            rows = s.scalars(select(LayerRow).where(LayerRow.parent_id == layer_id)).all()
            return [self._out(r) for r in rows]

    def held_by(self, layer_id: str) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(SnapshotMemberRow.snapshot_id).where(
                SnapshotMemberRow.layer_id == layer_id)).all())

    def all_ids(self) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(LayerRow.id).where(LayerRow.backend == self.backend)).all())

    def add(self, layers: Sequence[LayerLike]) -> None:
        with self.db.session() as s:
            s.add_all(LayerRow(id=x.id, backend=self.backend, parent_id=x.parent_id,
                               volume_id=x.volume_id) for x in layers)

    def freeze(self, snapshot_id: str, overlays: Mapping[str, LayerLike],
               targets: Mapping[str, LayerLike] | None = None) -> None:
        with self.db.session() as s:
            for volume_id, target in (targets or {}).items():
                s.add(LayerRow(id=target.id, backend=self.backend, parent_id=None, volume_id=None))
                s.flush()
                s.add(SnapshotMemberRow(snapshot_id=snapshot_id, volume_id=volume_id, layer_id=target.id))
            for volume_id, overlay in overlays.items():
                assert overlay.parent_id is not None
                s.execute(update(LayerRow).where(LayerRow.id == overlay.parent_id).values(volume_id=None))
                s.add(SnapshotMemberRow(snapshot_id=snapshot_id, volume_id=volume_id,
                                        layer_id=overlay.parent_id))
            s.flush()
            s.add_all(LayerRow(id=o.id, backend=self.backend, parent_id=o.parent_id, volume_id=v)
                      for v, o in overlays.items())

    def holds(self, snapshot_id: str) -> dict[str, str]:
        with self.db.session() as s:
            rows = s.execute(select(SnapshotMemberRow.volume_id, SnapshotMemberRow.layer_id).where(
                SnapshotMemberRow.snapshot_id == snapshot_id)).all()
            return {v: layer for v, layer in rows}

    def release(self, snapshot_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(SnapshotMemberRow).where(SnapshotMemberRow.snapshot_id == snapshot_id))

    def split(self, snapshot_id: str, names: Mapping[str, str]) -> None:
        with self.db.session() as s:
            for volume_id, name in names.items():
                moved = s.execute(update(SnapshotMemberRow).where(
                    SnapshotMemberRow.snapshot_id == snapshot_id, SnapshotMemberRow.volume_id == volume_id)
                    .values(snapshot_id=name))
                if not moved.rowcount:  # type: ignore[attr-defined]
                    raise LookupError(f"snapshot {snapshot_id} holds no layer of volume {volume_id}")

    def remove(self, layer_id: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LayerRow).where(LayerRow.id == layer_id))

    def replace_top(self, volume_id: str, layer: LayerLike) -> None:
        with self.db.session() as s:
            s.execute(update(LayerRow).where(LayerRow.backend == self.backend, LayerRow.volume_id == volume_id)
                      .values(volume_id=None))
            s.flush()
            s.add(LayerRow(id=layer.id, backend=self.backend, parent_id=layer.parent_id, volume_id=volume_id))

    def adopt(self, layer_id: str, volume_id: str | None) -> None:
        with self.db.session() as s:
            s.execute(update(LayerRow).where(LayerRow.id == layer_id).values(volume_id=volume_id))

    def set_parent(self, layer_id: str, parent_id: str | None) -> None:
        with self.db.session() as s:
            s.execute(update(LayerRow).where(LayerRow.id == layer_id).values(parent_id=parent_id))

    def merge_into_parent(self, layer_id: str) -> None:
        with self.db.session() as s:
            row = s.get(LayerRow, layer_id)
            if row is None or row.parent_id is None:
                return
            volume_id, parent_id = row.volume_id, row.parent_id
            s.delete(row)
            s.flush()
            s.execute(update(LayerRow).where(LayerRow.id == parent_id).values(volume_id=volume_id))
