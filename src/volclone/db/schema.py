"""The tables volclone owns. TaskFlow keeps its own (logbooks, flowdetails, atomdetails)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON}


class VolumeTypeRow(Base):
    __tablename__ = "volume_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class VolumeTypeAccessRow(Base):
    """A project granted a private volume type (Cinder's ``volume_type_projects``): the project
    sees the type and may make volumes of it. A public type's grants are kept but mean nothing."""

    __tablename__ = "volume_type_access"
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class VolumeRow(Base):
    __tablename__ = "volumes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"))
    backend: Mapped[str] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: From the type's extra spec ``multiattach="<is> True"`` at create (Cinder's ``volumes.multiattach``).
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: None until ``os-update_readonly_flag`` set it (Cinder's admin metadata ``readonly``).
    readonly: Mapped[bool | None] = mapped_column(Boolean)
    migration_status: Mapped[str | None] = mapped_column(String(255))
    #: The snapshot the volume was made from (no foreign key: the snapshot may go first, as in Cinder).
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    #: The user who made it (Cinder's ``user_id``); NULL for volumes made before it was recorded.
    user_id: Mapped[str | None] = mapped_column(String(255))
    #: The generic volume group the volume belongs to (Cinder's ``group_id``).
    group_id: Mapped[str | None] = mapped_column(ForeignKey("generic_groups.id"), index=True)
    #: Loaded with the volume (one extra query per load); changed only through ``AttachmentRow``.
    attachments: Mapped[list[AttachmentRow]] = relationship(
        lazy="selectin", viewonly=True, order_by="AttachmentRow.created_at, AttachmentRow.id")


class SnapshotRow(Base):
    """A snapshot of one volume (Cinder's ``snapshots``). A volume with snapshots can't be
    deleted unless the delete cascades to them."""

    __tablename__ = "snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    volume_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    backend: Mapped[str] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    #: The user who took it (Cinder's ``user_id``).
    user_id: Mapped[str | None] = mapped_column(String(255))
    #: The group snapshot it is a member of (Cinder's ``group_snapshot_id``).
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), index=True)
    #: What ``os-update_snapshot_status`` last reported ("80%"); None: derived from the status.
    progress: Mapped[str | None] = mapped_column(String(255))


class AttachmentRow(Base):
    """A consumer's use of a volume (Cinder's ``volume_attachment``). A detached
    attachment's row is deleted; a volume with attachments cannot be deleted."""

    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"), index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    instance_uuid: Mapped[str | None] = mapped_column(String(255), index=True)
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    connector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    mountpoint: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    attached_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class LayerRow(Base):
    """One image file of the local pool.

    A layer is referenced by the volume whose active layer it is (``volume_id``),
    by the layers that use it as backing (``parent_id``) and by group snapshots
    (``snapshot_members``). A layer with no reference is removed; a frozen layer is
    never written to or committed into while more than one thing references it.
    """

    __tablename__ = "layers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    backend: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("layers.id"), index=True)
    volume_id: Mapped[str | None] = mapped_column(String(36), index=True, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SnapshotMemberRow(Base):
    """A group snapshot's hold on one frozen layer."""

    __tablename__ = "snapshot_members"
    snapshot_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    layer_id: Mapped[str] = mapped_column(ForeignKey("layers.id"), index=True)


class GroupRow(Base):
    """A group of volumes a clone task works on (Cinder's generic volume group)."""

    __tablename__ = "volume_groups"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(255))
    volume_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class GroupTypeRow(Base):
    """Cinder's group type (``group_types``, its specs kept beside it as a volume type's are)."""

    __tablename__ = "group_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    group_specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class GenericGroupRow(Base):
    """Cinder's generic volume group (``groups``; not :class:`GroupRow`, a clone task's set)."""

    __tablename__ = "generic_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    group_type_id: Mapped[str] = mapped_column(ForeignKey("group_types.id"))
    volume_type_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(32))
    availability_zone: Mapped[str] = mapped_column(String(255))
    #: What a group made by ``create-from-src`` (3.14) was made from (Cinder's columns; no foreign
    #: keys: the source may be deleted once the group is made).
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_group_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class GenericGroupSnapshotRow(Base):
    """Cinder's group snapshot (``group_snapshots``); its members are the snapshots whose
    ``group_snapshot_id`` it is."""

    __tablename__ = "group_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("generic_groups.id"), index=True)
    group_type_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CloneTaskRow(Base):
    __tablename__ = "clone_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    logbook_id: Mapped[str] = mapped_column(String(36))
    flow_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    #: When the project asked to cancel the task (``{"cancel": {}}``); the process that runs
    #: its flow polls it (``volclone.flows.cancels``). NULL: never asked.
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, default=None)


class LeftoverRow(Base):
    """Something a clone flow's revert could not remove or release (a clone volume, a group
    snapshot, a source group, a status); retried until it is gone, then marked resolved."""

    __tablename__ = "clone_leftovers"
    #: ``<kind>:<ref>``: one row per thing, however often its removal fails.
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    #: The flow step whose revert left it (an atom name).
    step: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64))
    backend: Mapped[str | None] = mapped_column(String(255))
    #: The last failure, as a tenant may read it (no server paths).
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)


class TokenRow(Base):
    __tablename__ = "tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Space-separated role names (Keystone's: admin, member, reader), read by the policy.
    roles: Mapped[str] = mapped_column(String(255), default="member reader")
    #: The user the token stands for; NULL for tokens made before tokens had one (see ``Tokens.find``).
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class BackendRow(Base):
    """A backend added with ``volclone backend add`` (the built-in ``local`` has no row)."""

    __tablename__ = "backends"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    driver: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SettingRow(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class QuotaRow(Base):
    """An admin's override of one project's limit on one resource (Cinder's ``quotas``);
    a resource without a row has the configured default."""

    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaClassRow(Base):
    """One limit of a quota class (Cinder's ``quota_classes``); the ``default`` class's rows are
    the defaults of every project that has no limit of its own, over the configured ones."""

    __tablename__ = "quota_classes"
    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)


class QuotaLockRow(Base):
    """One row per project that ever reserved: the quota transactions of a project take its
    row lock first (an UPDATE), so they check and reserve one at a time, on SQLite and on
    PostgreSQL alike."""

    __tablename__ = "quota_locks"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class ReservationRow(Base):
    """Quota held for one volume not made yet (Cinder's ``reservations``). ``holder`` is what
    commits or rolls it back: the volume create, or the clone task. It counts while it has not
    expired and its volume does not exist; once the volume exists the volume itself counts."""

    __tablename__ = "reservations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    volume_id: Mapped[str] = mapped_column(String(36))
    gigabytes: Mapped[int] = mapped_column(Integer)
    #: The type the volume will have (its ``volumes_<type>`` and ``gigabytes_<type>``): a
    #: reservation counts in that type until its volume row exists with that type, so a retype's
    #: holds the new type's quota until the row is switched. None: counted in no type.
    volume_type_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class ServiceRow(Base):
    """One backend a worker serves (Cinder's ``services`` row of a ``cinder-volume``), kept
    alive by the worker's heartbeat; a row whose heartbeat is old is a service that is down.
    Rows stay when a worker stops, as in Cinder, so an admin sees what went away."""

    __tablename__ = "services"
    #: The worker (``volclone worker --name``); with the backend, Cinder's ``host@backend``.
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    binary: Mapped[str] = mapped_column(String(255), primary_key=True)
    backend: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The machine the worker runs on (its hostname).
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    #: Cinder's ``disabled``: placement picks no backend whose services are all disabled.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Cinder's ``frozen`` (``os-services/freeze``): no management operation on its volumes.
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IdempotencyKeyRow(Base):
    """A clone-volumes request's ``Idempotency-Key``: a retry with the same key and body gets the
    same task; the key lives for a day (``volclone.db.idempotency``)."""

    __tablename__ = "clone_idempotency_keys"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: sha256 of the request body as the service read it.
    body_hash: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TransferRow(Base):
    """A volume offered to another project (Cinder's ``transfers``). The auth key itself is never
    stored: ``key_hash`` is HMAC-SHA256 of it keyed with ``salt``. An accepted transfer keeps its
    row (``accepted``, ``destination_project_id``) but is no longer listed or shown."""

    __tablename__ = "volume_transfers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    salt: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(255))
    #: Cinder's ``no_snapshots``: the volume moves without its snapshots.
    volume_only: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    destination_project_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UserMessageRow(Base):
    """An asynchronous failure told to its project (Cinder's ``messages``); deleted by the reaper
    once ``expires_at`` (Cinder's ``expires_at``, shown as ``guaranteed_until``) has passed."""

    __tablename__ = "user_messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    request_id: Mapped[str] = mapped_column(String(255))
    resource_type: Mapped[str] = mapped_column(String(255))
    resource_uuid: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    action_id: Mapped[str] = mapped_column(String(10))
    detail_id: Mapped[str] = mapped_column(String(10))
    message_level: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
class QosSpecsRow(Base):
    """A QoS spec (Cinder's ``quality_of_service_specs``, flattened: its keys in one JSON column)."""

    __tablename__ = "qos_specs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16))
    specs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class QosTypeRow(Base):
    """A volume type's QoS spec (Cinder's ``volume_types.qos_specs_id``): at most one per type."""

    __tablename__ = "qos_type_associations"
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), primary_key=True)
    qos_specs_id: Mapped[str] = mapped_column(ForeignKey("qos_specs.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class TypeEncryptionRow(Base):
    """A volume type's encryption (Cinder's ``encryption``): at most one per type. Deleted outright
    (Cinder soft-deletes it; its ``deleted`` is always false here)."""

    __tablename__ = "volume_type_encryption"
    encryption_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), unique=True)
    provider: Mapped[str] = mapped_column(String(255))
    cipher: Mapped[str | None] = mapped_column(String(255))
    key_size: Mapped[int | None] = mapped_column(Integer)
    control_location: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
