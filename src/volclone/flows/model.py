"""The clone flow's vocabulary and data: its step names, its undo actions, the clone spec.

This is the ONE table of task-name prefixes; the flow, get_progress, the failpoints and the
tests all read it::

    Step.CREATE_GROUP_CLONE.task_name("84a0bb4d-...")   # 'create_group_clone-84a0bb4d'
    Step.of("create_group_clone-84a0bb4d")               # Step.CREATE_GROUP_CLONE
    [s.prefix for s in Step]                             # in the order the flow runs them

TaskFlow persists the flow's store and the tasks' arguments as JSON, so a :class:`CloneSpec`
travels as :meth:`CloneSpec.to_json` and is read back with :meth:`CloneSpec.from_json`, which
also reads the shape stored before the record existed (no ``backend`` key: the sources' one).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class Step(str, enum.Enum):
    """The flow's steps, in the order they run; a task's name is ``<value>-<task id[:8]>``."""

    CREATE_SRC_GROUP = "create_src_vol_group"
    CREATE_GROUP_SNAPSHOT = "create_group_snapshot"
    CREATE_GROUP_CLONE = "create_group_clone"
    SET_METADATA = "set_metadata_for_volume"
    DELETE_GROUP_SNAPSHOT = "delete_group_snapshot"
    DELETE_SRC_GROUP = "delete_group-src_group"
    SET_CLONES_AVAILABLE = "set_clones_available"

    @property
    def prefix(self) -> str:
        """What every task name of this step starts with (the failpoints match it)."""
        return f"{self.value}-"

    def task_name(self, task_id: str) -> str:
        return f"{self.prefix}{task_id[:8]}"

    @classmethod
    def of(cls, task_name: str) -> Step | None:
        return next((s for s in cls if task_name.startswith(s.prefix)), None)


class Undo(str, enum.Enum):
    """What a revert undoes, item by item; an item it cannot undo is recorded as a leftover of
    this kind and the same action is retried later. ``revert:<value>`` failpoints name them."""

    RESET_CLONE_STATUS = "reset_clone_status"
    DELETE_CLONE = "delete_clone"
    DELETE_GROUP_SNAPSHOT = "delete_group_snapshot"
    DELETE_GROUP = "delete_group"

    def describe(self, ref: str) -> str:
        return {
            Undo.RESET_CLONE_STATUS: f"clone {ref} was not set back to creating",
            Undo.DELETE_CLONE: f"clone volume {ref} was not deleted",
            Undo.DELETE_GROUP_SNAPSHOT: f"group snapshot {ref} was not deleted",
            Undo.DELETE_GROUP: f"source group {ref} was not removed",
        }[self]


#: A clone's ``mode`` when its spec names none (specs stored before modes existed).
LINKED = "linked"


@dataclass(frozen=True)
class CloneSpec:
    """One clone the flow makes: from ``source``, as volume ``id``, on ``backend``."""

    source: str
    id: str
    name: str
    volume_type_id: str
    backend: str
    #: How it is made: ``linked``, ``full`` (a full copy at the snapshot) or ``copy`` (onto another backend).
    mode: str = LINKED
    description: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"source": self.source, "id": self.id, "name": self.name, "description": self.description,
                "volume_type_id": self.volume_type_id, "mode": self.mode, "backend": self.backend}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default_backend: str) -> CloneSpec:
        """Read a stored spec; the old shape names a backend only when it is not the sources'."""
        return cls(source=str(data["source"]), id=str(data["id"]), name=str(data["name"]),
                   volume_type_id=str(data["volume_type_id"]), backend=str(data.get("backend") or default_backend),
                   mode=str(data.get("mode") or LINKED),
                   description=None if data.get("description") is None else str(data["description"]))

    @classmethod
    def load_all(cls, data: Iterable[Mapping[str, Any]], default_backend: str) -> list[CloneSpec]:
        return [cls.from_json(d, default_backend) for d in data]
