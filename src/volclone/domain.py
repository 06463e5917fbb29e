"""Domain records and states. No I/O lives here."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class VolumeStatus(str, enum.Enum):
    CREATING = "creating"
    AVAILABLE = "available"
    #: Attachments exist, none is served yet (made without a connector).
    RESERVED = "reserved"
    #: Served to a consumer that has not completed its attachment yet.
    ATTACHING = "attaching"
    IN_USE = "in-use"
    #: ``os-begin_detaching`` was called; ``os-detach`` (or ``os-roll_detaching``) ends it.
    DETACHING = "detaching"
    #: ``os-extend`` is growing the volume (from available, or in-use at 3.42+).
    EXTENDING = "extending"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    #: The backend failed to grow the volume; it keeps its old size (Cinder's status).
    ERROR_EXTENDING = "error_extending"
    #: Only ``os-reset_status`` sets it (as in Cinder); no operation accepts a volume in it.
    MAINTENANCE = "maintenance"
    #: ``os-revert`` is putting the volume back to its latest snapshot (Cinder's status), or
    #: ``POST clone-volumes/revert`` a clone's data back into it; nothing attaches, extends or
    #: deletes it meanwhile.
    REVERTING = "reverting"
    #: A volume transfer is open for it (Cinder's status): it waits for another project to
    #: accept it, and nothing attaches, extends, snapshots or deletes it meanwhile.
    AWAITING_TRANSFER = "awaiting-transfer"
    #: ``os-retype`` is moving the volume's data to another backend (Cinder's status).
    RETYPING = "retyping"


class TaskKind(str, enum.Enum):
    """What a clone task's flow does; its store's ``kind`` (none: a clone, as before reverts)."""

    CLONE = "clone"
    REVERT = "revert"
    #: create-from-src with a group snapshot: a group's volumes made from its member snapshots.
    GROUP_FROM_SNAPSHOT = "group_from_snapshot"

    @classmethod
    def of_store(cls, store: Mapping[str, Any]) -> TaskKind:
        return cls(store.get("kind") or cls.CLONE.value)


#: Statuses a volume may be cloned from.
CLONEABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})
#: Statuses a volume may be deleted from.
DELETABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.ERROR, VolumeStatus.ERROR_DELETING,
                       VolumeStatus.ERROR_EXTENDING})
#: Statuses a volume may get a new attachment in (whether its mode fits is checked apart).
ATTACHABLE = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.RESERVED, VolumeStatus.ATTACHING,
                        VolumeStatus.IN_USE})


class AttachStatus(str, enum.Enum):
    """An attachment's progress (Cinder's ``attach_status``)."""

    RESERVED = "reserved"    # made without a connector: nothing is served yet
    ATTACHING = "attaching"  # served; the consumer has not completed it
    ATTACHED = "attached"    # completed (PUT, os-attach)


class AttachMode(str, enum.Enum):
    RW = "rw"
    RO = "ro"


#: The attachment statuses whose volume is served (exported) by its backend.
SERVED = frozenset({AttachStatus.ATTACHING, AttachStatus.ATTACHED})


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
        """The backend its volumes go to: ``volume_backend_name``, or the same capability scoped
        (``capabilities:volume_backend_name``, as Cinder's scheduler matches it) when its value is
        a plain name (one with an operator, ``<in> a b``, is left to the capability check)."""
        plain = self.extra_specs.get("volume_backend_name")
        if plain:
            return plain
        scoped = self.extra_specs.get("capabilities:volume_backend_name", "").strip()
        return scoped if scoped and not scoped.startswith("<") and " " not in scoped else None


@dataclass
class Attachment:
    """A consumer's use of a volume (Cinder's volume attachment)."""

    id: str
    volume_id: str
    project_id: str
    instance_uuid: str | None
    mode: AttachMode
    status: AttachStatus
    #: What the consumer told about itself (Cinder's connector: host, ip, initiator, ...).
    connector: dict[str, Any] = field(default_factory=dict)
    #: How to reach the volume (``{"driver_volume_type": "nbd", "data": {...}}``); None until served.
    connection_info: dict[str, Any] | None = None
    mountpoint: str | None = None
    created_at: dt.datetime | None = None
    attached_at: dt.datetime | None = None

    @property
    def host(self) -> str | None:
        host = self.connector.get("host")
        return str(host) if host is not None else None


def attached_status(attachments: Iterable[Attachment]) -> VolumeStatus:
    """The status a volume with these attachments has (Cinder's order: attached > attaching > reserved).

        >>> attached_status([])
        <VolumeStatus.AVAILABLE: 'available'>
    """
    statuses = {a.status for a in attachments}
    if AttachStatus.ATTACHED in statuses:
        return VolumeStatus.IN_USE
    if AttachStatus.ATTACHING in statuses:
        return VolumeStatus.ATTACHING
    if AttachStatus.RESERVED in statuses:
        return VolumeStatus.RESERVED
    return VolumeStatus.AVAILABLE


def mode_conflict(existing: Iterable[Attachment], mode: AttachMode, shared: bool = False) -> str | None:
    """Why a new attachment in ``mode`` can't join ``existing`` ones, or None if it can.

    A volume is served through ONE export, writable or not, so its attachments never mix
    modes. Unless ``shared`` (a multiattach volume, or attachments all of one instance, as in
    a live migration), a read-write attachment is its only one.
    """
    modes = {a.mode for a in existing}
    if shared and modes and mode not in modes:
        return f"it is attached {modes.pop().value}; its attachments share one export and can't mix modes"
    if shared:
        return None
    if AttachMode.RW in modes:
        return "it is attached read-write already; a read-write attachment is exclusive"
    if mode is AttachMode.RW and modes:
        return "it is attached read-only; detach every attachment before attaching it read-write"
    return None


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
    attachments: list[Attachment] = field(default_factory=list)
    #: ``os-set_bootable``; shown as Cinder does, the string ``"true"`` or ``"false"``.
    bootable: bool = False
    #: ``os-update_readonly_flag``: None until it was set (Cinder's admin metadata ``readonly``,
    #: which its views show in ``metadata`` as ``"True"``/``"False"`` once set). A read-only
    #: volume is attached read-only.
    readonly: bool | None = None
    #: ``os-retype`` onto another backend: ``migrating``, ``completing``, then ``success`` or
    #: ``error``; ``os-reset_status`` sets it too. None is Cinder's "none".
    migration_status: str | None = None
    #: The snapshot the volume was made from (``snapshot_id`` in POST /volumes), if any.
    snapshot_id: str | None = None
    #: Several attachments at once (to several servers) are allowed: set at create when the
    #: volume's type has the extra spec ``multiattach="<is> True"`` (Cinder's rule).
    multiattach: bool = False
    #: Who made it (:attr:`Principal.user_id`; Cinder's ``user_id``); None for volumes made before
    #: volclone recorded it.
    user_id: str | None = None
    #: The generic volume group (Cinder's ``group_id``, 3.13) the volume is a member of.
    group_id: str | None = None


class SnapshotStatus(str, enum.Enum):
    """A snapshot's status (Cinder's ``fields.SnapshotStatus``, those volclone reaches)."""

    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    #: The volume is being reverted to this snapshot (Cinder's ``restoring``).
    RESTORING = "restoring"


@dataclass
class Snapshot:
    """A snapshot of one volume (Cinder's): the volume's data at one point in time, held by
    the volume's backend. ``volume_size`` is the volume's size when it was taken."""

    id: str
    project_id: str
    volume_id: str
    name: str | None
    description: str | None
    volume_size: int
    status: SnapshotStatus
    backend: str
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    #: Who took it (Cinder's ``user_id``, shown from microversion 3.41).
    user_id: str | None = None
    #: The group snapshot it is a member of (Cinder's ``group_snapshot_id``, shown from 3.14).
    group_snapshot_id: str | None = None
    #: What ``os-update_snapshot_status`` last reported ("80%"); None: 100% once made, else 0%.
    progress: str | None = None


@dataclass
class Principal:
    """Who is calling: a token scoped to one project, possibly an admin, with its roles
    (Keystone's role names: ``admin``, ``member``, ``reader``, ...) for the policy.

    ``user_id`` is the user the token stands for: a Keystone token's user, or a local token's own
    (``volclone token create --user-id``); volumes and snapshots record it as their ``user_id``.
    """

    project_id: str
    is_admin: bool = False
    roles: frozenset[str] = frozenset()
    user_id: str | None = None


@dataclass
class CloneRequest:
    project_id: str
    volume_ids: list[str]
    display_name: str | None = None
    description: str | None = None
    target_type_id: str | None = None


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


@dataclass(frozen=True)
class BackendConfig:
    """A storage backend added with ``volclone backend add``: its driver and the driver's options
    (for RBD: ``conf``, ``pool``, ``user``). Volume types reach it by ``volume_backend_name``."""

    name: str
    driver: str
    options: dict[str, Any] = field(default_factory=dict)


#: The binary of a worker's backends in the services list: Cinder's name, which operators' tools
#: and Tempest filter on (volclone's own, ``volclone-volume``, until migration 0020).
VOLUME_BINARY = "cinder-volume"
#: The binary of a process that places new volumes on backends (the API role), as Cinder's scheduler.
SCHEDULER_BINARY = "cinder-scheduler"
#: Older names a ``binary`` filter still takes.
BINARY_ALIASES = {"volclone-volume": VOLUME_BINARY, "volclone-scheduler": SCHEDULER_BINARY}


@dataclass(frozen=True)
class ServiceRecord:
    """One backend a worker serves, as its heartbeat last recorded it (times in UTC, naive)."""

    name: str
    binary: str
    backend: str
    #: The machine the worker runs on.
    hostname: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    disabled: bool = False
    disabled_reason: str | None = None
    frozen: bool = False

    @property
    def host(self) -> str:
        """Cinder's ``host`` of a volume service: ``worker@backend``; of a scheduler, ``worker``."""
        return f"{self.name}@{self.backend}" if self.backend else self.name


@dataclass(frozen=True)
class HostUsage:
    """What one project has on a backend (``os-hosts/{host}``): volumes and snapshots, and their GiB."""

    project_id: str
    volumes: int = 0
    volume_gb: int = 0
    snapshots: int = 0
    snapshot_gb: int = 0


@dataclass(frozen=True)
class VolumeQuery:
    """Which volumes a list shows, in which order, and which page of them (Cinder's list
    parameters, checked and parsed). Every part is done by the database.

    ``sort`` names columns of the volume record (``name``, ``size``, ``created_at``, ...);
    ``created_at`` then ``id`` are added when missing, in the first key's direction, as Cinder
    adds them, so that the order is total and a page after ``marker`` has no gap and no repeat.
    """

    #: field -> value each volume must equal (``name``, ``status``, ``size``, ``volume_type_id``, ...).
    equal: tuple[tuple[str, object], ...] = ()
    #: metadata items each volume must have.
    metadata: tuple[tuple[str, str], ...] = ()
    #: field -> text each volume's field must contain, in any case (Cinder's ``name~``).
    contains: tuple[tuple[str, str], ...] = ()
    #: (field, operator, time): ``created_at``/``updated_at`` compared with a naive UTC time
    #: (3.60's filters); the operator is one of ``gt``, ``gte``, ``lt``, ``lte``, ``eq``, ``neq``.
    compare: tuple[tuple[str, str, dt.datetime], ...] = ()
    #: A filter no volume can match (a metadata filter that is not a dict, bootable=true, ...).
    nothing: bool = False
    #: (field, ascending) pairs, most significant first.
    sort: tuple[tuple[str, bool], ...] = ()
    #: The id of the volume the page starts after.
    marker: str | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class SnapshotQuery:
    """Which snapshots a list shows, in which order, and which page (Cinder's list parameters,
    checked and parsed); like :class:`VolumeQuery`, all done by the database."""

    #: field -> value each snapshot must equal (``name``, ``status``, ``volume_id``, ...).
    equal: tuple[tuple[str, object], ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    #: field -> text each snapshot's field must contain, in any case (an admin's 3.34 ``name~``).
    contains: tuple[tuple[str, str], ...] = ()
    nothing: bool = False
    sort: tuple[tuple[str, bool], ...] = ()
    marker: str | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class VolumeSummary:
    """``GET /volumes/summary``: how many volumes, their GiB, and every metadata value per key."""

    total_count: int
    total_size: int
    metadata: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Transfer:
    """An offer of one volume to whichever project accepts it with the offer's auth key
    (Cinder's volume transfer). Only a salted hash of the key is kept: ``salt`` and ``key_hash``."""

    id: str
    volume_id: str
    #: The project that offered the volume (Cinder's ``source_project_id``).
    project_id: str
    name: str | None
    salt: str
    key_hash: str
    #: Whether the volume's snapshots stay behind (3.55's ``no_snapshots``).
    no_snapshots: bool = False
    accepted: bool = False
    destination_project_id: str | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class PageQuery:
    """A list's filters, order and page, all done by the database (Cinder's transfer lists,
    3.5's message lists, and 3.29's group snapshot lists)."""

    equal: tuple[tuple[str, object], ...] = ()
    #: field -> text each row's field must contain, in any case (3.34's ``name~``).
    contains: tuple[tuple[str, str], ...] = ()
    #: A filter no row can match (an admin's filter on a field the list has not).
    nothing: bool = False
    sort: tuple[tuple[str, bool], ...] = ()
    marker: str | None = None
    limit: int | None = None
    offset: int = 0


@dataclass(frozen=True)
class UserMessage:
    """An asynchronous failure told to the project it happened to (Cinder's user messages,
    microversion 3.3). ``action_id`` and ``detail_id`` are Cinder's codes; the event id and the
    text are made from them (``volclone.service.messages``)."""

    id: str
    project_id: str
    resource_type: str
    resource_uuid: str | None
    action_id: str
    detail_id: str
    event_id: str
    message_level: str
    request_id: str
    created_at: dt.datetime
    #: Kept at least until then; the reaper deletes it after.
    expires_at: dt.datetime


class QosConsumer(str, enum.Enum):
    """Who enforces a QoS spec (Cinder's ``consumer``): the storage (``back-end``, the default),
    the hypervisor (``front-end``: the specs go out in connection_info), or ``both``."""

    FRONT_END = "front-end"
    BACK_END = "back-end"
    BOTH = "both"

    @property
    def backend_enforces(self) -> bool:
        return self is not QosConsumer.FRONT_END

    @property
    def frontend_enforces(self) -> bool:
        return self is not QosConsumer.BACK_END


#: The QoS keys volclone enforces (Cinder's and Nova's names): a limit per second, and for each the
#: burst ceiling (``*_max``, allowed for ``*_max_length`` seconds); ``size_iops_sec`` counts an I/O
#: larger than it as several. Other keys of a spec are kept and shown, and mean nothing to volclone.
QOS_RATE_KEYS = ("total_iops_sec", "read_iops_sec", "write_iops_sec",
                 "total_bytes_sec", "read_bytes_sec", "write_bytes_sec")
QOS_BURST_KEYS = tuple(f"{k}_max" for k in QOS_RATE_KEYS)
QOS_BURST_LENGTH_KEYS = tuple(f"{k}_max_length" for k in QOS_RATE_KEYS)
QOS_LIMIT_KEYS = (*QOS_RATE_KEYS, *QOS_BURST_KEYS, *QOS_BURST_LENGTH_KEYS, "size_iops_sec")


@dataclass(frozen=True)
class QosSpecs:
    """A named set of QoS keys (Cinder's ``qos_specs``), associated with volume types."""

    id: str
    name: str
    consumer: QosConsumer = QosConsumer.BACK_END
    specs: Mapping[str, str] = field(default_factory=dict)

    def limits(self) -> dict[str, int]:
        """The enforced keys that are set (not 0), as numbers (the service checked them); empty
        when the storage is not the consumer."""
        if not self.consumer.backend_enforces:
            return {}
        return {k: int(v) for k, v in self.specs.items() if k in QOS_LIMIT_KEYS and int(v) > 0}


class ControlLocation(str, enum.Enum):
    """Where a volume type's encryption is done (Cinder's ``control_location``): by the hypervisor
    host that attaches the volume (``front-end``, os-brick's encryptors) or by the storage (``back-end``)."""

    FRONT_END = "front-end"
    BACK_END = "back-end"


@dataclass(frozen=True)
class TypeEncryption:
    """A volume type's encryption (Cinder's ``encryption`` row): what every volume of the type is
    to be encrypted with. ``provider`` is ``luks``, ``plain`` or an encryptor's class path (Cinder
    takes any string here and checks it when a volume is made); ``key_size`` is in bits."""

    encryption_id: str
    volume_type_id: str
    provider: str
    control_location: ControlLocation
    cipher: str | None = None
    key_size: int | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class GroupStatus(str, enum.Enum):
    """A generic volume group's status (Cinder's ``fields.GroupStatus``)."""

    CREATING = "creating"
    AVAILABLE = "available"
    UPDATING = "updating"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    IN_USE = "in-use"


@dataclass(frozen=True)
class GroupType:
    """Cinder's group type: a name and its ``group_specs`` (e.g. ``consistent_group_snapshot_enabled``)."""

    id: str
    name: str
    description: str | None = None
    is_public: bool = True
    group_specs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """Cinder's generic volume group (3.13): volumes of the listed volume types, snapshotted together."""

    id: str
    project_id: str
    name: str | None
    description: str | None
    group_type_id: str
    volume_type_ids: list[str]
    status: GroupStatus
    availability_zone: str
    created_at: dt.datetime | None = None
    #: What ``create-from-src`` (3.14) made it from: a group snapshot or a group (else None).
    group_snapshot_id: str | None = None
    source_group_id: str | None = None


class GroupSnapshotStatus(str, enum.Enum):
    """A group snapshot's status (Cinder's ``fields.GroupSnapshotStatus``, those volclone reaches)."""

    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"


@dataclass(frozen=True)
class VolumeGroupSnapshot:
    """Cinder's group snapshot (3.14): every member volume of a group frozen at one instant,
    one member snapshot (a :class:`Snapshot` with ``group_snapshot_id``) per volume."""

    id: str
    project_id: str
    group_id: str
    group_type_id: str
    name: str | None
    description: str | None
    status: GroupSnapshotStatus
    created_at: dt.datetime | None = None
