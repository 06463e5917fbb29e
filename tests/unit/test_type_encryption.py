"""A volume type's encryption (``/types/{type_id}/encryption``) over HTTP on the fast service:
Cinder's bodies and statuses (the shapes Tempest's encryption_types schemas check), each of its
refusals, its admin-only rules, and no volume ever made of an encrypted type (no key manager)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from api.support import assert_fault
from volclone.api import create_app
from volclone.domain import CloneRequest
from volclone.errors import BadRequest
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES

from .conftest import Fast

LUKS = {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256, "control_location": "front-end"}
#: Tempest's show schema: every key it allows, none other (additionalProperties false).
SHOW_KEYS = {"volume_type_id", "encryption_id", "key_size", "provider", "control_location", "cipher", "deleted",
             "created_at", "updated_at", "deleted_at"}


@pytest.fixture
def clients(fast: Fast) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(fast.svc, manage_lifecycle=False)
    admin = fast.svc.auth.create_token("admin", ADMIN_ROLES)
    member = fast.svc.auth.create_token("p1", MEMBER_ROLES)
    with TestClient(app, headers={"X-Auth-Token": admin}) as a, TestClient(app, headers={"X-Auth-Token": member}) as m:
        yield a, m


def _path(type_id: str, rest: str = "") -> str:
    return f"/v3/admin/types/{type_id}/encryption{rest}"


def _create(admin: TestClient, type_id: str, **fields: Any) -> httpx.Response:
    return admin.post(_path(type_id), json={"encryption": {**LUKS, **fields}})


def _rows(fast: Fast) -> list[tuple[Any, ...]]:
    return fast.db_rows("SELECT volume_type_id, provider, cipher, key_size, control_location "
                        "FROM volume_type_encryption ORDER BY volume_type_id")


def test_create_show_update_show_key_delete_as_cinder(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "secret")
    assert (admin.get(_path(vtype.id)).status_code, admin.get(_path(vtype.id)).json()) == (200, {})

    r = _create(admin, vtype.id)
    assert r.status_code == 200, r.text
    created = r.json()["encryption"]
    assert created == {**LUKS, "volume_type_id": vtype.id, "encryption_id": created["encryption_id"]}

    shown = admin.get(_path(vtype.id)).json()
    assert set(shown) == SHOW_KEYS
    assert {k: shown[k] for k in LUKS} == LUKS
    assert (shown["volume_type_id"], shown["encryption_id"]) == (vtype.id, created["encryption_id"])
    assert (shown["deleted"], shown["deleted_at"], shown["updated_at"]) == (False, None, None)
    dt.datetime.fromisoformat(shown["created_at"])

    change = {"key_size": 128, "provider": "SomeProvider", "control_location": "back-end"}
    r = admin.put(_path(vtype.id, f"/{created['encryption_id']}"), json={"encryption": change})
    assert (r.status_code, r.json()) == (200, {"encryption": change})
    again = admin.get(_path(vtype.id)).json()
    assert {k: again[k] for k in LUKS} == {**LUKS, **change}
    assert again["updated_at"] is not None and again["encryption_id"] == created["encryption_id"]

    assert admin.get(_path(vtype.id, "/cipher")).json() == {"cipher": "aes-xts-plain64"}
    assert admin.get(_path(vtype.id, "/key_size")).json() == {"key_size": 128}
    assert_fault(admin.get(_path(vtype.id, "/colour")), 404, "does not exist")

    r = admin.delete(_path(vtype.id, "/provider"))  # the id is not looked at (cinderclient sends "provider")
    assert (r.status_code, r.content) == (202, b"")
    assert admin.get(_path(vtype.id)).json() == {}
    assert _rows(fast) == []
    assert_fault(admin.get(_path(vtype.id, "/cipher")), 404)


def test_key_size_may_be_a_string_of_digits_or_null_and_cipher_null(fast: Fast,
                                                                    clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "s")
    r = admin.post(_path(vtype.id), json={"encryption": {"provider": "plain", "control_location": "back-end",
                                                         "key_size": "512", "cipher": None}})
    assert r.status_code == 200, r.text
    assert (r.json()["encryption"]["key_size"], r.json()["encryption"]["cipher"]) == (512, None)
    r = admin.put(_path(vtype.id, "/x"), json={"encryption": {"key_size": None}})
    assert (r.status_code, r.json()) == (200, {"encryption": {"key_size": None}})
    assert _rows(fast) == [(vtype.id, "plain", None, None, "back-end")]


@pytest.mark.parametrize("fields, message", [
    ({"control_location": "middle"}, "control_location"),
    ({"control_location": None}, "control_location"),
    ({"key_size": -1}, "key_size"),
    ({"key_size": "12a"}, "key_size"),
    ({"key_size": 2**31}, "key_size"),
    ({"key_size": True}, "key_size"),
    ({"key_size": 1.5}, "key_size"),
    ({"provider": None}, "provider"),
    ({"provider": 7}, "provider"),
    ({"provider": "p" * 256}, "provider"),
    ({"cipher": ["aes"]}, "cipher"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_field_is_a_400_and_nothing_is_stored(fast: Fast, clients: tuple[TestClient, TestClient],
                                                    fields: dict[str, Any], message: str) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "s")
    assert_fault(_create(admin, vtype.id, **fields), 400, message)
    assert _rows(fast) == []
    # The same value in an update is refused as well, and the encryption stays as it was.
    assert _create(admin, vtype.id).status_code == 200
    before = _rows(fast)
    assert_fault(admin.put(_path(vtype.id, "/p"), json={"encryption": fields}), 400, message)
    assert _rows(fast) == before


@pytest.mark.parametrize("missing", ["provider", "control_location"])
def test_create_needs_provider_and_control_location(fast: Fast, clients: tuple[TestClient, TestClient],
                                                    missing: str) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "s")
    body = {k: v for k, v in LUKS.items() if k != missing}
    assert_fault(admin.post(_path(vtype.id), json={"encryption": body}), 400, missing)
    assert_fault(admin.post(_path(vtype.id), json={"encrypt": LUKS}), 400)
    assert _rows(fast) == []


def test_a_type_has_one_encryption(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "s")
    assert _create(admin, vtype.id).status_code == 200
    before = _rows(fast)
    assert_fault(_create(admin, vtype.id, provider="plain"), 400, "already exists")
    assert _rows(fast) == before


def test_an_unknown_type_or_no_encryption_is_a_404(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    nowhere = "3f0e1c1e-0000-4000-8000-00000000e404"
    assert_fault(admin.get(_path(nowhere)), 404, "could not be found")
    assert_fault(_create(admin, nowhere), 404, "could not be found")
    assert_fault(admin.put(_path(nowhere, "/p"), json={"encryption": {"cipher": "x"}}), 404)
    vtype = fast.svc.types.create(fast.admin, "plain-type")
    assert_fault(admin.put(_path(vtype.id, "/p"), json={"encryption": {"cipher": "x"}}), 404, "does not exist")
    assert_fault(admin.delete(_path(vtype.id, "/p")), 404, "does not exist")
    assert _rows(fast) == []


def test_the_encryption_of_a_type_in_use_is_not_changed(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    used = fast.svc.types.create(fast.admin, "used")
    fast.volume(1, volume_type=used.id)
    assert_fault(_create(admin, used.id), 400, "Cannot create encryption specs. Volume type in use.")
    assert _rows(fast) == []

    # A type that got its encryption before any volume (none can be made of it after) and then a
    # volume by a path that skipped the check (a row written underneath, as a race could):
    vtype = fast.svc.types.create(fast.admin, "enc")
    assert _create(admin, vtype.id).status_code == 200
    vol = fast.volume(1)
    fast.db_execute("UPDATE volumes SET volume_type_id = ? WHERE id = ?", vtype.id, vol.id)
    before = _rows(fast)
    assert_fault(admin.put(_path(vtype.id, "/p"), json={"encryption": {"cipher": "x"}}), 400,
                 "Cannot update encryption specs. Volume type in use.")
    assert_fault(admin.delete(_path(vtype.id, "/p")), 400, "Cannot delete encryption specs. Volume type in use.")
    assert _rows(fast) == before


def test_no_volume_is_made_of_an_encrypted_type(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, member = clients
    vtype = fast.svc.types.create(fast.admin, "enc")
    assert _create(admin, vtype.id).status_code == 200
    with fast.creates_nothing():
        message = assert_fault(member.post("/v3/p1/volumes", json={"volume": {"size": 1, "volume_type": "enc"}}),
                               400, "no key manager")
    assert "encrypted" in message
    # Nor a clone onto it, nor a retype to it.
    source = fast.volume(1, name="src")
    with fast.creates_nothing():
        assert_fault(member.post("/v3/p1/volumes", json={"volume": {"source_volid": source.id,
                                                                     "volume_type": "enc"}}), 400, "no key manager")
        with pytest.raises(BadRequest, match="no key manager"):
            fast.svc.clones.start(fast.who, CloneRequest("p1", [source.id], target_type_id=vtype.id))
    r = member.post(f"/v3/p1/volumes/{source.id}/action", json={"os-retype": {"new_type": "enc"}})
    assert_fault(r, 400, "no key manager")
    assert fast.get(source.id).volume_type_id != vtype.id
    # Without its encryption the type makes volumes again (as Cinder's own rule has it).
    assert admin.delete(_path(vtype.id, "/p")).status_code == 202
    shown = member.post("/v3/p1/volumes", json={"volume": {"size": 1, "volume_type": "enc"}})
    assert shown.status_code == 202, shown.text
    assert shown.json()["volume"]["encrypted"] is False


def test_deleting_the_type_deletes_its_encryption(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    vtype = fast.svc.types.create(fast.admin, "gone")
    assert _create(admin, vtype.id).status_code == 200
    assert admin.delete(f"/v3/admin/types/{vtype.id}").status_code == 202
    assert _rows(fast) == []


def test_only_admins(fast: Fast, clients: tuple[TestClient, TestClient]) -> None:
    admin, member = clients
    vtype = fast.svc.types.create(fast.admin, "s")
    assert _create(admin, vtype.id).status_code == 200
    before = _rows(fast)
    p = f"/v3/p1/types/{vtype.id}/encryption"
    for r, rule in [(member.get(p), "get"), (member.get(f"{p}/cipher"), "get"),
                    (member.post(p, json={"encryption": LUKS}), "create"),
                    (member.put(f"{p}/x", json={"encryption": {"cipher": "x"}}), "update"),
                    (member.delete(f"{p}/x"), "delete")]:
        assert_fault(r, 403, f"volume_extension:volume_type_encryption:{rule}")
    assert _rows(fast) == before


def test_the_extension_is_listed(clients: tuple[TestClient, TestClient]) -> None:
    admin, _ = clients
    got = {e["alias"]: e["name"] for e in admin.get("/v3/admin/extensions").json()["extensions"]}
    assert got["encryption"] == "VolumeTypeEncryption"


def test_migration_0021_matches_the_schema_and_downgrades(tmp_path: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from volclone.db.database import alembic_config, make_engine, schema_drift

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0021")
        assert [d for d in schema_drift(engine) if "volume_type_encryption" in repr(d)] == []
        command.downgrade(cfg, "0020")
        assert "volume_type_encryption" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "0021")
        assert [d for d in schema_drift(engine) if "volume_type_encryption" in repr(d)] == []
    finally:
        engine.dispose()
