"""Answers whose status or shape Tempest's response schemas check, found by its volume API tests
(docs/tempest.md): in process, a TestClient on the fast service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from volclone.api import create_app
from volclone.service.auth import ADMIN_ROLES, READER_ROLES

from .conftest import Fast


@pytest.fixture
def admin(fast: Fast) -> Iterator[TestClient]:
    token = fast.svc.auth.create_token("admin", ADMIN_ROLES)
    with TestClient(create_app(fast.svc, manage_lifecycle=False), headers={"X-Auth-Token": token}) as client:
        yield client


def test_deleting_an_extra_spec_is_a_202_and_the_spec_is_gone(fast: Fast, admin: TestClient) -> None:
    vtype = fast.svc.types.create(fast.admin, "gold", None, extra_specs={"color": "blue", "size": "L"})
    r = admin.delete(f"/v3/admin/types/{vtype.id}/extra_specs/color")
    assert (r.status_code, r.content) == (202, b""), "Cinder answers 202 Accepted, with no body"
    assert admin.get(f"/v3/admin/types/{vtype.id}/extra_specs").json() == {"extra_specs": {"size": "L"}}
    assert admin.get(f"/v3/admin/types/{vtype.id}/extra_specs/color").status_code == 404


def test_the_availability_zones_are_the_one_every_volume_shows(fast: Fast, admin: TestClient) -> None:
    r = admin.get("/v3/admin/os-availability-zone")
    assert r.status_code == 200, r.text
    assert r.json() == {"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True}}]}
    volume = fast.svc.volumes.create(fast.admin, "admin", 1)
    shown = admin.get(f"/v3/admin/volumes/{volume.id}").json()["volume"]
    assert shown["availability_zone"] == "nova"


def test_the_extensions_list_cinders_names_and_aliases(admin: TestClient) -> None:
    r = admin.get("/v3/admin/extensions")
    assert r.status_code == 200, r.text
    extensions = r.json()["extensions"]
    assert {e["alias"] for e in extensions} >= {"os-availability-zone", "os-quota-sets", "os-types-extra-specs",
                                                 "os-volume-type-access", "os-volume-actions", "os-services",
                                                 "os-volume-transfer", "os-snapshot-actions"}
    for e in extensions:  # the members Tempest's schema requires, and no others
        assert set(e) == {"name", "alias", "description", "links", "updated"}, e
        assert e["links"] == [] and e["updated"].startswith("20"), e


@pytest.mark.parametrize("path", ["/os-availability-zone", "/extensions"])
def test_a_reader_may_list_zones_and_extensions_and_a_stranger_may_not(fast: Fast, path: str) -> None:
    reader = fast.svc.auth.create_token("p1", READER_ROLES)
    with TestClient(create_app(fast.svc, manage_lifecycle=False), headers={"X-Auth-Token": reader}) as client:
        assert client.get(f"/v3/p1{path}").status_code == 200
        r = client.get(f"/v3/p2{path}")
        assert r.status_code == 403, r.text
        assert "volume_extension:" in r.json()["forbidden"]["message"]


def test_an_admin_reads_another_projects_volume_through_its_own_project(fast: Fast, admin: TestClient) -> None:
    """Tempest's admin clients show the primary user's volumes on the admin's project URL."""
    vol = fast.volume(project="p1")
    shown = admin.get(f"/v3/admin/volumes/{vol.id}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["volume"]["os-vol-tenant-attr:tenant_id"] == "p1"
    stranger = fast.svc.auth.create_token("p2")
    r = admin.get(f"/v3/p2/volumes/{vol.id}", headers={"X-Auth-Token": stranger})
    assert r.status_code == 404 and r.json()["itemNotFound"]["code"] == 404, r.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_volume_path_with_no_id_is_a_404(fast: Fast, admin: TestClient, method: str) -> None:
    vol = fast.volume(project="admin")
    body = {"volume": {"name": "x"}} if method == "PUT" else None
    r = admin.request(method, "/v3/admin/volumes/", json=body, follow_redirects=False)
    assert r.status_code == 404, r.text
    assert "no volume id" in r.json()["itemNotFound"]["message"]
    assert fast.get(vol.id, project="admin").name is None, "nothing changed"


def test_a_snapshot_of_a_null_volume_id_is_a_404_and_a_missing_one_a_400(admin: TestClient) -> None:
    r = admin.post("/v3/admin/snapshots", json={"snapshot": {"volume_id": None, "display_name": "s"}})
    assert r.status_code == 404 and "None could not be found" in r.json()["itemNotFound"]["message"], r.text
    r = admin.post("/v3/admin/snapshots", json={"snapshot": {"display_name": "s"}})
    assert r.status_code == 400, r.text


def test_an_admin_force_deletes_a_snapshot_left_deleting(fast: Fast, admin: TestClient) -> None:
    vol = fast.volume(project="admin")
    sid = admin.post("/v3/admin/snapshots", json={"snapshot": {"volume_id": vol.id}}).json()["snapshot"]["id"]
    act = f"/v3/admin/snapshots/{sid}/action"
    assert admin.post(act, json={"os-reset_status": {"status": "deleting"}}).status_code == 202
    assert admin.post(act, json={"os-force_delete": {}}).status_code == 202
    assert admin.get(f"/v3/admin/snapshots/{sid}").status_code == 404
    assert not fast.mem.snapshot_exists(sid, vol.id)
