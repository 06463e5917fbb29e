"""Use cases. The only layer that calls the database, the backends and the flows.

``Service`` groups them; the API and the CLI get one from ``volclone.bootstrap``::

    svc = bootstrap.build(Settings.from_env())
    svc.start()
    who = svc.auth.authenticate(token)
    svc.policy.authorize("volume:create", who, project)   # the API checks every operation's rule
    vol = svc.volumes.create(who, project, size=1, name="data")
    task_id = svc.clones.start(who, CloneRequest(project, [vol.id]))
    att = svc.attachments.create(who, project, vol.id, connector={"host": "h1"})
    svc.services.list(admin)                        # the workers' backends, up or down
    snap = svc.snapshots.create(who, project, vol.id, force=True)
    offer, key = svc.transfers.create(who, project, vol.id)   # another project accepts it with key
    svc.messages.page(who, project, PageQuery())            # failures told after the fact
    svc.qos.associate(admin, qos_id, type_id)       # QoS specs, enforced by the backends
    group = svc.groups.create(who, project, group_type="gt", volume_types=["__DEFAULT__"])
    svc.type_encryption.create(admin, type_id, {"provider": "luks", "control_location": "front-end"})
"""

from __future__ import annotations

from collections.abc import Callable

from volclone.service.attachments import AttachmentService
from volclone.service.auth import AuthService
from volclone.service.clones import CloneService
from volclone.service.group_snapshots import GroupSnapshotService
from volclone.service.group_sources import GroupSourceService
from volclone.service.group_types import GroupTypeService
from volclone.service.groups import GroupService
from volclone.service.hosts import HostService
from volclone.service.messages import MessageService
from volclone.service.policy import Policy
from volclone.service.qos import QosService
from volclone.service.quota_classes import QuotaClassService
from volclone.service.quotas import QuotaService
from volclone.service.services import ServiceDirectory
from volclone.service.snapshots import SnapshotService
from volclone.service.transfers import TransferService
from volclone.service.type_encryption import TypeEncryptionService
from volclone.service.volumes import VolumeService, VolumeTypeService

__all__ = ["AttachmentService", "AuthService", "CloneService", "GroupService", "GroupSnapshotService",
           "GroupSourceService", "GroupTypeService", "MessageService", "Policy", "QosService", "QuotaService",
           "Service", "ServiceDirectory", "SnapshotService", "TransferService", "TypeEncryptionService",
           "VolumeService", "VolumeTypeService"]


class Service:
    def __init__(self, auth: AuthService, types: VolumeTypeService, volumes: VolumeService,
                 clones: CloneService, attachments: AttachmentService,
                 on_start: list[Callable[[], object]], on_stop: list[Callable[[], object]],
                 *, quotas: QuotaService, services: ServiceDirectory, policy: Policy | None = None,
                 snapshots: SnapshotService | None = None, transfers: TransferService | None = None,
                 messages: MessageService | None = None, qos: QosService | None = None,
                 group_types: GroupTypeService | None = None, groups: GroupService | None = None,
                 group_snapshots: GroupSnapshotService | None = None,
                 type_encryption: TypeEncryptionService | None = None,
                 group_sources: GroupSourceService | None = None,
                 quota_classes: QuotaClassService | None = None, hosts: HostService | None = None) -> None:
        self.auth = auth
        self.type_encryption = type_encryption
        self.quota_classes = quota_classes
        self.hosts = hosts
        self.transfers = transfers
        self.messages = messages
        self.qos = qos
        self.group_types = group_types
        self.groups = groups
        self.group_snapshots = group_snapshots
        #: create-from-src (3.14).
        self.group_sources = group_sources
        self.snapshots = snapshots
        self.services = services
        self.quotas = quotas
        self.policy = policy or Policy()
        self.types = types
        self.volumes = volumes
        self.clones = clones
        self.attachments = attachments
        self._on_start = on_start
        self._on_stop = on_stop

    def start(self) -> None:
        for step in self._on_start:
            step()

    def stop(self) -> None:
        for step in self._on_stop:
            step()
