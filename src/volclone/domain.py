"""Domain records and states. No I/O lives here."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field


class VolumeStatus(str, enum.Enum):
    CREATING = "creating"
    AVAILABLE = "available"
    IN_USE = "in-use"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"


#: Statuses a volume may be cloned from.
CLONEABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
#: Statuses a volume may be deleted from.
DELETABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.ERROR, VolumeStatus.ERROR_DELETING})


class TaskState(str, enum.Enum):
    """States of a clone task and of each of its steps (TaskFlow's vocabulary)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVERTING = "REVERTING"
    REVERTED = "REVERTED"


#: Step states that count as completed in get_progress.
FINISHED = frozenset({TaskState.SUCCESS, TaskState.FAILURE, TaskState.REVERTED})


@dataclass
class VolumeType:
    id: str
    name: str
    description: str | None = None
    is_public: bool = True
    extra_specs: dict[str, str] = field(default_factory=dict)

    @property
    def backend_name(self) -> str | None:
        return self.extra_specs.get("volume_backend_name")


@dataclass
class Volume:
    id: str
    project_id: str
    name: str | None
    description: str | None
    size: int
    status: VolumeStatus
    volume_type_id: str
    backend: str
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass
class Principal:
    """Who is calling: a token scoped to one project, possibly an admin."""

    project_id: str
    is_admin: bool = False

    def may_act_on(self, project_id: str) -> bool:
        return self.is_admin or self.project_id == project_id


@dataclass
class CloneRequest:
    project_id: str
    volume_ids: list[str]
    display_name: str | None = None
    description: str | None = None
    target_type_id: str | None = None


@dataclass
class CloneTask:
    id: str
    project_id: str
    state: TaskState
    created_at: dt.datetime | None = None


@dataclass
class CloneProgress:
    """What get_progress reports, derived from the flow's persisted state."""

    task_id: str
    flow_name: str
    flow_state: TaskState
    progress: int
    tasks: dict[str, TaskState]
    results: dict[str, str]
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def completed_tasks(self) -> dict[str, str]:
        return {n: s.value for n, s in self.tasks.items() if s in FINISHED}

    @property
    def pending_tasks(self) -> dict[str, str]:
        """Steps not finished yet: waiting, running or being reverted."""
        return {n: s.value for n, s in self.tasks.items() if s not in FINISHED}
