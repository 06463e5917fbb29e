"""/v3/{project_id}/extensions: the Cinder API extensions volclone serves, as Cinder lists them.

Each is one of Cinder's ``cinder/api/contrib`` extensions (its name and alias), listed only where
volclone serves what it adds; ``updated`` is when volclone began to serve it. Tempest's
``[volume-feature-enabled] api_extensions`` names aliases from here (docs/tempest.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from volclone.api.deps import principal, rule
from volclone.domain import Principal

router = APIRouter(prefix="/v3/{project_id}")

_SINCE = "2026-12-02T00:00:00+00:00"
#: (name, alias, description)
EXTENSIONS = (
    ("AdminActions", "os-admin-actions", "Volume actions for admins: os-reset_status, os-force_delete."),
    ("AvailabilityZones", "os-availability-zone", "The availability zones (os-availability-zone)."),
    ("ExtendedServices", "os-extended-services", "Services' disabled_reason; os-services/disable-log-reason."),
    ("Hosts", "os-hosts", "The hosts (the services) and a volume host's usage by project."),
    ("Qos_specs_manage", "qos-specs", "QoS specs and the volume types they limit (enforced by the backends)."),
    ("Quota_classes", "os-quota-class-sets", "Quota classes; the default class is every project's defaults."),
    ("Quotas", "os-quota-sets", "Each project's quotas: show, update, back to the defaults."),
    ("Services", "os-services", "The volume services, each worker's backends (os-services)."),
    ("SnapshotActions", "os-snapshot-actions", "Snapshot actions: os-update_snapshot_status."),
    ("TypesExtraSpecs", "os-types-extra-specs", "A volume type's extra specs."),
    ("TypesManage", "os-types-manage", "Create, update and delete volume types."),
    ("VolumeActions", "os-volume-actions", "Volume actions: attach, detach, connections, extend, flags."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr", "A volume's project as os-vol-tenant-attr:tenant_id."),
    ("VolumeTypeEncryption", "encryption", "A volume type's encryption (no volume is made of an encrypted type: "
     "volclone has no key manager)."),
    ("VolumeTypeAccess", "os-volume-type-access", "Private volume types and the projects granted them."),
    ("VolumeTransfer", "os-volume-transfer", "Volume transfers between projects: offer, accept with the auth key."),
)


@router.get("/extensions")
@rule("volume_extension:extensions_list")
def list_extensions(project_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
    return {"extensions": [{"name": name, "alias": alias, "description": description, "links": [],
                            "updated": _SINCE} for name, alias, description in EXTENSIONS]}
