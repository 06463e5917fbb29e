"""Volume and type records against schemas written from Tempest's response schemas
(``tempest/lib/api_schema/response/volume/``: volumes.py, v3_61 ... v3_69, volume_types.py),
which allow no other field, and against Cinder's views for which microversion and which caller
gets each field. The personas come from the real default policy."""

from __future__ import annotations

import datetime as dt

import pytest

from volclone.api import views
from volclone.domain import Attachment, AttachMode, AttachStatus, Principal, Volume, VolumeStatus, VolumeType
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES
from volclone.service.policy import Policy

POLICY = Policy()
CALLERS = {
    "admin": Principal("admin", True, ADMIN_ROLES),
    "member": Principal("p1", False, MEMBER_ROLES),
    "reader": Principal("p1", False, READER_ROLES),
}
NOW = dt.datetime(2026, 12, 1, 12, 0, 0)
VERSIONS = [(3, 0), (3, 12), (3, 13), (3, 20), (3, 21), (3, 27), (3, 47), (3, 48), (3, 60), (3, 61), (3, 62),
            (3, 63), (3, 64), (3, 65), (3, 69), (3, 71)]

# -- the schema, as Tempest writes it ---------------------------------------------------------
#: Tempest's volume create/update answer (volumes.create_volume): what it allows and requires.
TEMPEST_CREATE_ALLOWED = {
    "migration_status", "attachments", "links", "availability_zone", "encrypted", "updated_at",
    "replication_status", "snapshot_id", "id", "size", "user_id", "metadata", "status", "description",
    "multiattach", "source_volid", "consistencygroup_id", "name", "bootable", "created_at", "volume_type",
    "group_id", "provider_id", "service_uuid", "shared_targets"}
#: Tempest's volume show / detailed list (volumes.common_show_volume) adds the attribute fields.
TEMPEST_SHOW_ALLOWED = TEMPEST_CREATE_ALLOWED | {
    "os-vol-host-attr:host", "os-vol-tenant-attr:tenant_id", "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id", "volume_image_metadata"}
TEMPEST_REQUIRED = {
    "attachments", "links", "encrypted", "updated_at", "replication_status", "id", "size", "user_id",
    "availability_zone", "metadata", "status", "description", "multiattach", "consistencygroup_id", "name",
    "bootable", "created_at", "volume_type", "snapshot_id", "source_volid"}
#: What each of Tempest's versioned folders adds to both.
TEMPEST_FROM = {(3, 61): {"cluster_name"}, (3, 63): {"volume_type_id"}, (3, 64): {"encryption_key_id"},
                (3, 65): {"consumes_quota"}}
TEMPEST_ATTACHMENT = {"server_id", "attachment_id", "attached_at", "host_name", "volume_id", "device", "id"}

TEMPEST_TYPE_SHOW = {"extra_specs", "name", "is_public", "description", "id", "os-volume-type-access:is_public",
                     "qos_specs_id"}
TEMPEST_TYPE_CREATE = {"extra_specs", "name", "is_public", "description", "id", "os-volume-type-access:is_public"}
TEMPEST_TYPE_UPDATE = {"extra_specs", "name", "is_public", "description", "id"}
TEMPEST_TYPE_REQUIRED = {"name", "is_public", "description", "id"}

# -- Cinder's gates (cinder/api/v3/views/volumes.py and the field policies) ----------------------
CINDER_BASE = {
    "id", "status", "size", "availability_zone", "created_at", "updated_at", "name", "description",
    "volume_type", "snapshot_id", "source_volid", "metadata", "links", "user_id", "bootable", "encrypted",
    "replication_status", "consistencygroup_id", "multiattach", "attachments"}
CINDER_FROM = {(3, 13): {"group_id"}, (3, 48): {"shared_targets", "service_uuid"}, (3, 63): {"volume_type_id"},
               (3, 65): {"consumes_quota"}}
CINDER_ADMIN_FROM = {(3, 0): {"migration_status"}, (3, 21): {"provider_id"}, (3, 61): {"cluster_name"}}
#: Show and detailed lists only, by persona (volume_tenant_attribute: readers too; the others: admins).
CINDER_ATTRIBUTES = {
    "admin": {"os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
              "os-vol-mig-status-attr:name_id"},
    "member": {"os-vol-tenant-attr:tenant_id"},
    "reader": {"os-vol-tenant-attr:tenant_id"},
}


def _since(table: dict[tuple[int, int], set[str]], version: tuple[int, int]) -> set[str]:
    return set().union(*(fields for since, fields in table.items() if version >= since))


def _volume() -> Volume:
    attached = Attachment(id="a1", volume_id="v1", project_id="p1", instance_uuid="srv", mode=AttachMode.RW,
                          status=AttachStatus.ATTACHED, connector={"host": "compute-1"}, mountpoint="/dev/vdb",
                          attached_at=NOW)
    return Volume(id="v1", project_id="p1", name="data", description=None, size=1, status=VolumeStatus.IN_USE,
                  volume_type_id="t1", backend="local", created_at=NOW, updated_at=NOW, attachments=[attached])


def _body(role: str, version: tuple[int, int], extended: bool) -> dict:
    who = CALLERS[role]
    shape = views.VolumeShape.for_caller(version, who, lambda rule: POLICY.allows(rule, who), extended)
    return views.volume("http://h", _volume(), "gold", shape)


@pytest.mark.parametrize("role", sorted(CALLERS))
@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v[0]}.{v[1]}")
@pytest.mark.parametrize("op", ["show", "create"])
def test_a_volume_fits_tempests_schema_and_cinders_gates(role, version, op):
    body = _body(role, version, extended=op == "show")
    allowed = (TEMPEST_SHOW_ALLOWED if op == "show" else TEMPEST_CREATE_ALLOWED) | _since(TEMPEST_FROM, version)
    assert set(body) <= allowed, sorted(set(body) - allowed)
    assert TEMPEST_REQUIRED <= set(body), sorted(TEMPEST_REQUIRED - set(body))
    expected = CINDER_BASE | _since(CINDER_FROM, version)
    if role == "admin":
        expected |= _since(CINDER_ADMIN_FROM, version)
    if op == "show":
        expected |= CINDER_ATTRIBUTES[role]
    assert set(body) == expected
    for att in body["attachments"]:
        assert set(att) == TEMPEST_ATTACHMENT


def test_the_fields_that_made_tempest_fail_at_3_0_are_gone():
    """The issue's report: tenant_id and volume_type_id on volumes at 3.0 (a create's answer, and
    any member), qos_specs_id on types."""
    created = _body("member", (3, 0), extended=False)
    assert "os-vol-tenant-attr:tenant_id" not in created and "volume_type_id" not in created
    assert "os-vol-tenant-attr:tenant_id" not in _body("admin", (3, 27), extended=False)
    assert "volume_type_id" not in _body("admin", (3, 62), extended=True)
    assert _body("member", (3, 63), extended=True)["volume_type_id"] == "t1"


def test_the_host_fields_are_the_admins():
    admin, member = _body("admin", (3, 0), True), _body("member", (3, 0), True)
    assert admin["os-vol-host-attr:host"] == "volclone@local#local"
    assert admin["attachments"][0]["host_name"] == "compute-1"
    assert member["attachments"][0]["host_name"] is None
    service = Principal("glance", False, frozenset({"service", "member", "reader"}))
    shape = views.VolumeShape.for_caller((3, 0), service, lambda rule: POLICY.allows(rule, service))
    assert views.volume("http://h", _volume(), "gold", shape)["attachments"][0]["host_name"] == "compute-1"


def test_volume_type_is_the_name_or_before_3_63_the_id_of_a_type_gone():
    who = CALLERS["member"]
    for version, expected in (((3, 0), "t1"), ((3, 62), "t1"), ((3, 63), None)):
        shape = views.VolumeShape.for_caller(version, who, lambda rule: POLICY.allows(rule, who))
        assert views.volume("http://h", _volume(), None, shape)["volume_type"] == expected


def test_shared_targets_and_the_later_fields_have_tempests_types():
    body = _body("admin", (3, 69), True)
    assert body["shared_targets"] is False and body["service_uuid"] is None
    assert body["consumes_quota"] is True and body["cluster_name"] is None and body["provider_id"] is None


def _type_flags(role: str) -> dict[str, bool]:
    who = CALLERS[role]
    return {"qos_specs_id": POLICY.allows(views.TYPE_QOS_RULE, who),
            "access_is_public": POLICY.allows(views.TYPE_ACCESS_RULE, who)}


@pytest.mark.parametrize("role", sorted(CALLERS))
def test_a_type_fits_tempests_schemas(role):
    t = VolumeType(id="t1", name="gold", description=None, is_public=False, extra_specs={"multiattach": "<is> True"})
    flags = _type_flags(role)
    shown = views.volume_type(t, **flags)
    assert TEMPEST_TYPE_REQUIRED <= set(shown) <= TEMPEST_TYPE_SHOW
    expected = {"id", "name", "description", "is_public", "extra_specs"}
    expected |= {"admin": {"qos_specs_id", "os-volume-type-access:is_public"},
                 "member": {"os-volume-type-access:is_public"}, "reader": set()}[role]
    assert set(shown) == expected
    created = views.volume_type(t, access_is_public=flags["access_is_public"])
    assert TEMPEST_TYPE_REQUIRED <= set(created) <= TEMPEST_TYPE_CREATE
    if role == "admin":  # only admins create, and Tempest requires the field then
        assert created["os-volume-type-access:is_public"] is False
    assert set(views.volume_type(t)) == TEMPEST_TYPE_UPDATE


def test_type_access_list_fits_tempests_schema():
    assert views.type_access("t1", ["p1", "p2"]) == {"volume_type_access": [
        {"volume_type_id": "t1", "project_id": "p1"}, {"volume_type_id": "t1", "project_id": "p2"}]}
