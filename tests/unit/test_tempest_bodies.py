"""Answers whose status or shape Tempest's response schemas check, found by its volume API tests
(docs/tempest.md): in process, a TestClient on the fast service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from volclone.api import create_app
from volclone.service.auth import ADMIN_ROLES

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
