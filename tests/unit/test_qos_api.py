"""``/qos-specs`` over HTTP (a TestClient on the fast service): Cinder's bodies and statuses (the
shapes Tempest's qos schemas check), its admin-only rules, and a clear 4xx fault for bad input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from api.support import assert_fault
from volclone.api import create_app
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES

from .conftest import Fast

Q = "/v3/admin/qos-specs"


@pytest.fixture
def clients(fast: Fast) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(fast.svc, manage_lifecycle=False)
    admin = fast.svc.auth.create_token("admin", ADMIN_ROLES)
    member = fast.svc.auth.create_token("p1", MEMBER_ROLES)
    with TestClient(app, headers={"X-Auth-Token": admin}) as a, TestClient(app, headers={"X-Auth-Token": member}) as m:
        yield a, m


def _fault(r: httpx.Response, status: int, contains: str | None = None) -> None:
    assert_fault(r, status, contains)


def test_the_calls_answer_as_cinder_does(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "gold")
    r = admin.post(Q, json={"qos_specs": {"name": "q1", "consumer": "front-end", "total_iops_sec": "100"}})
    assert r.status_code == 200, r.text
    body = r.json()
    q = body["qos_specs"]
    assert set(body) == {"qos_specs", "links"} and {x["rel"] for x in body["links"]} == {"self", "bookmark"}
    assert q == {"id": q["id"], "name": "q1", "consumer": "front-end", "specs": {"total_iops_sec": "100"}}
    assert admin.get(f"{Q}/{q['id']}").json()["qos_specs"] == q
    assert admin.get(Q).json() == {"qos_specs": [q]}

    r = admin.put(f"{Q}/{q['id']}", json={"qos_specs": {"read_bytes_sec": "4096", "consumer": "back-end"}})
    assert (r.status_code, r.json()) == (200, {"qos_specs": {"read_bytes_sec": "4096", "consumer": "back-end"}})
    r = admin.put(f"{Q}/{q['id']}/delete_keys", json={"keys": ["read_bytes_sec"]})
    assert (r.status_code, r.content) == (202, b"")
    assert admin.get(f"{Q}/{q['id']}").json()["qos_specs"]["specs"] == {"total_iops_sec": "100"}

    r = admin.get(f"{Q}/{q['id']}/associate", params={"vol_type_id": vtype.id})
    assert (r.status_code, r.content) == (202, b"")
    assert admin.get(f"{Q}/{q['id']}/associations").json() == {
        "qos_associations": [{"association_type": "volume_type", "name": "gold", "id": vtype.id}]}
    assert admin.get(f"/v3/admin/types/{vtype.id}").json()["volume_type"]["qos_specs_id"] == q["id"]
    _fault(admin.delete(f"{Q}/{q['id']}"), 400, "still associated")
    assert admin.get(f"{Q}/{q['id']}/disassociate", params={"vol_type_id": vtype.id}).status_code == 202
    assert admin.get(f"/v3/admin/types/{vtype.id}").json()["volume_type"]["qos_specs_id"] is None
    assert admin.get(f"{Q}/{q['id']}/associate", params={"vol_type_id": vtype.id}).status_code == 202
    assert admin.get(f"{Q}/{q['id']}/disassociate_all").status_code == 202
    assert admin.get(f"{Q}/{q['id']}/associate", params={"vol_type_id": vtype.id}).status_code == 202
    r = admin.delete(f"{Q}/{q['id']}", params={"force": "True"})
    assert (r.status_code, r.content) == (202, b"")
    _fault(admin.get(f"{Q}/{q['id']}"), 404, q["id"])


def test_only_admins_reach_qos_specs(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, member = clients
    q = admin.post(Q, json={"qos_specs": {"name": "q"}}).json()["qos_specs"]
    mq = f"/v3/p1/qos-specs/{q['id']}"
    for method, path, rule, body in [
            ("GET", "/v3/p1/qos-specs", "get_all", None), ("POST", "/v3/p1/qos-specs", "create", {"qos_specs": {}}),
            ("GET", mq, "get", None), ("PUT", mq, "update", {"qos_specs": {"a": "b"}}), ("DELETE", mq, "delete", None),
            ("PUT", f"{mq}/delete_keys", "delete", {"keys": ["a"]}), ("GET", f"{mq}/associations", "get_all", None),
            ("GET", f"{mq}/associate?vol_type_id=x", "update", None),
            ("GET", f"{mq}/disassociate_all", "update", None)]:
        _fault(member.request(method, path, json=body), 403, f"volume_extension:qos_specs_manage:{rule}")
    assert [x["id"] for x in admin.get(Q).json()["qos_specs"]] == [q["id"]]


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), [
    ("POST", "", {"qos_specs": {"total_iops_sec": "1"}}, 400, "name"),
    ("POST", "", {"qos_specs": {"name": "x", "total_iops_sec": 5}}, 400, None),
    ("POST", "", {"qos_specs": {"name": "x", "total_iops_sec": "lots"}}, 400, "whole number"),
    ("POST", "", {"qos_specs": {"name": "x", "consumer": "me"}}, 400, "consumer"),
    ("POST", "", {"specs": {}}, 400, None),
    ("POST", "", {"qos_specs": {"name": "taken"}}, 409, "already exists"),
    ("PUT", "/{id}", {"qos_specs": {}}, 400, None),
    ("PUT", "/{id}", {"qos_specs": {"name": "new"}}, 400, "name"),
    ("PUT", "/{id}/delete_keys", {"keys": "total_iops_sec"}, 400, None),
    ("PUT", "/{id}/delete_keys", {"keys": ["nope"]}, 404, "nope"),
    ("GET", "/{id}/associate", None, 400, "Volume Type id"),
    ("GET", "/{id}/associate?vol_type_id=no-such-type", None, 404, "no-such-type"),
    ("GET", "/{id}/disassociate", None, 400, "Volume Type id"),
    ("DELETE", "/{id}?force=maybe", None, 400, "force"),
    ("GET", "/no-such-spec", None, 404, "no-such-spec"),
    ("GET", "/no-such-spec/associations", None, 404, None),
    ("DELETE", "/no-such-spec", None, 404, None),
])
def test_bad_input_is_a_clear_fault_and_changes_nothing(fast: Fast, clients: tuple[TestClient, TestClient],
                                                        method: str, path: str, body: object, status: int,
                                                        says: str | None) -> None:
    admin, _ = clients
    q = admin.post(Q, json={"qos_specs": {"name": "taken", "total_iops_sec": "7"}}).json()["qos_specs"]
    _fault(admin.request(method, Q + path.replace("{id}", q["id"]), json=body), status, says)
    assert admin.get(Q).json() == {"qos_specs": [q]}
