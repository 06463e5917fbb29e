"""The clone flow's vocabulary and data: its step names, its undo actions, the clone spec.

:class:`Step` (the clone flow's) and :class:`RevertStep` (a revert in place's) are the ONE tables
of task-name prefixes; the flows, get_progress, the failpoints and the tests all read them::

    Step.CREATE_GROUP_CLONE.task_name("84a0bb4d-...")   # 'create_group_clone-84a0bb4d'
    Step.of("create_group_clone-84a0bb4d")               # Step.CREATE_GROUP_CLONE
    [s.prefix for s in Step]                             # in the order the flow runs them

TaskFlow persists the flow's store and the tasks' arguments as JSON, so a :class:`CloneSpec`
travels as :meth:`CloneSpec.to_json` and is read back with :meth:`CloneSpec.from_json`, which
also reads the shape stored before the record existed (no ``backend`` key: the sources' one).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from volclone.domain import TaskKind

__all__ = ["TaskKind"]


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


class RevertStep(str, enum.Enum):
    """The steps of a revert in place (``POST clone-volumes/revert``), in the order they run; a
    task's name is ``<value>-<task id[:8]>``, as for :class:`Step`::

        RevertStep.SWAP_IN.task_name("84a0bb4d-...")    # 'revert_swap_in-84a0bb4d'
    """

    HOLD_VOLUMES = "revert_hold_volumes"
    SNAPSHOT_CLONES = "revert_snapshot_clones"
    PREPARE_DATA = "revert_prepare_data"
    SWAP_IN = "revert_swap_in"
    DELETE_SNAPSHOT = "revert_delete_snapshot"
    SCHEDULE_DROP = "revert_schedule_old_data_drop"
    RELEASE_VOLUMES = "revert_release_volumes"

    @property
    def prefix(self) -> str:
        return f"{self.value}-"

    def task_name(self, task_id: str) -> str:
        return f"{self.prefix}{task_id[:8]}"

    @classmethod
    def of(cls, task_name: str) -> RevertStep | None:
        return next((s for s in cls if task_name.startswith(s.prefix)), None)


class Undo(str, enum.Enum):
    """What a revert undoes, item by item; an item it cannot undo is recorded as a leftover of
    this kind and the same action is retried later. ``revert:<value>`` failpoints name them."""

    RESET_CLONE_STATUS = "reset_clone_status"
    DELETE_CLONE = "delete_clone"
    #: A volume create from a source (``source_volid``): the clone's data goes, its record stays
    #: ``error`` (Cinder's failed create), so its caller sees why.
    FAIL_CLONE = "fail_clone"
    DELETE_GROUP_SNAPSHOT = "delete_group_snapshot"
    DELETE_GROUP = "delete_group"
    #: Reverts in place (``ref``: a :func:`staged_ref` or :func:`kept_ref`): a source's prepared data is deleted;
    DELETE_STAGED = "delete_staged_data"
    #: a source gets its old data back (``ref``: the kept data's);
    SWAP_BACK = "swap_back_data"
    #: a source's old data goes once its revert in place has succeeded (``ref``: the kept data's).
    #: Not an undo: the last steps record it, and it is carried out once the flow ended SUCCESS.
    DROP_OLD_DATA = "drop_old_data"

    def describe(self, ref: str) -> str:
        return {
            Undo.DELETE_STAGED: f"prepared data {ref} was not deleted",
            Undo.SWAP_BACK: f"volume {kept_source(ref)} did not get its data back",
            Undo.DROP_OLD_DATA: f"old data {ref} of a reverted volume was not deleted",
            Undo.RESET_CLONE_STATUS: f"clone {ref} was not set back to creating",
            Undo.DELETE_CLONE: f"clone volume {ref} was not deleted",
            Undo.FAIL_CLONE: f"the data of failed volume {ref} was not deleted",
            Undo.DELETE_GROUP_SNAPSHOT: f"group snapshot {ref} was not deleted",
            Undo.DELETE_GROUP: f"source group {ref} was not removed",
        }[self]


#: Leftover kinds that are work put off until a flow has succeeded, not what a revert left behind.
DEFERRED = frozenset({Undo.DROP_OLD_DATA.value})


#: The namespace of the backend ids a revert in place derives (uuid5): the ids fit wherever a
#: volume id goes (36 characters: the local pool's layer records, RBD image names).
_REVERT_NS = uuid.UUID("0b7c4c53-5a43-4b6e-9f0e-7d3f3a1f2c11")


def staged_ref(task_id: str, source_id: str) -> str:
    """The name (a leftover's ``ref``) of the data a revert in place prepares for ``source_id``."""
    return f"{source_id}.revert-{task_id[:8]}"


def kept_ref(task_id: str, source_id: str) -> str:
    """The name (a leftover's ``ref``) of ``source_id``'s old data, kept until its revert ends."""
    return f"{source_id}.before-{task_id[:8]}"


def kept_source(kept: str) -> str:
    """The source volume of a :func:`kept_ref`."""
    return kept.rsplit(".before-", 1)[0]


def staged_of_kept(kept: str) -> str:
    """The :func:`staged_ref` that goes with a :func:`kept_ref`."""
    source, _, task8 = kept.rpartition(".before-")
    return f"{source}.revert-{task8}"


def backend_id(ref: str) -> str:
    """The backend volume id of a :func:`staged_ref` or :func:`kept_ref` (deterministic)."""
    return str(uuid.uuid5(_REVERT_NS, ref))


def staged_id(task_id: str, source_id: str) -> str:
    """The backend volume a revert in place prepares ``source_id``'s new data in."""
    return backend_id(staged_ref(task_id, source_id))


def kept_id(task_id: str, source_id: str) -> str:
    """The backend volume ``source_id``'s old data is kept as, until its revert in place ends."""
    return backend_id(kept_ref(task_id, source_id))


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
    #: GiB, when bigger than the source's: the clone is extended to it once made (a volume create
    #: from a source asks for it); None: the source's size.
    size: int | None = None

    def to_json(self) -> dict[str, str | int | None]:
        data: dict[str, str | int | None] = {
            "source": self.source, "id": self.id, "name": self.name, "description": self.description,
            "volume_type_id": self.volume_type_id, "mode": self.mode, "backend": self.backend}
        if self.size is not None:
            data["size"] = self.size
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], default_backend: str) -> CloneSpec:
        """Read a stored spec; the old shape names a backend only when it is not the sources'."""
        return cls(source=str(data["source"]), id=str(data["id"]), name=str(data["name"]),
                   volume_type_id=str(data["volume_type_id"]), backend=str(data.get("backend") or default_backend),
                   mode=str(data.get("mode") or LINKED),
                   description=None if data.get("description") is None else str(data["description"]),
                   size=None if data.get("size") is None else int(data["size"]))

    @classmethod
    def load_all(cls, data: Iterable[Mapping[str, Any]], default_backend: str) -> list[CloneSpec]:
        return [cls.from_json(d, default_backend) for d in data]
