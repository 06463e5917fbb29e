"""Who made a volume or a snapshot (Cinder's ``user_id``): the caller's user, carried in its
``Principal`` from its token, recorded at create (volume create, clone-volumes' clones, snapshot
create) and shown in every volume body, and on snapshots from microversion 3.41."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from starlette.testclient import TestClient

from volclone.api import create_app, versions
from volclone.auth.keystone import principal_of
from volclone.db.database import Database, alembic_config, make_engine, schema_drift
from volclone.db.repos import Tokens, hash_token
from volclone.domain import CloneRequest, Principal
from volclone.service.auth import MEMBER_ROLES, AuthService

from .conftest import Fast

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client(fast: Fast) -> Iterator[TestClient]:
    with TestClient(create_app(fast.svc, manage_lifecycle=False)) as c:
        yield c


def _call(client: TestClient, token: str, method: str, path: str, body: Any = None,
          version: str | None = None) -> Any:
    headers = {"X-Auth-Token": token}
    if version:
        headers[versions.HEADER] = f"volume {version}"
    r = client.request(method, f"/v3/p1{path}", json=body, headers=headers)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_a_volume_shows_the_user_of_the_token_that_made_it(fast: Fast, client: TestClient) -> None:
    alice = fast.svc.auth.create_token("p1", MEMBER_ROLES, user_id="alice-id")
    bob = fast.svc.auth.create_token("p1", MEMBER_ROLES, user_id="bob-id")
    made = _call(client, alice, "POST", "/volumes", {"volume": {"size": 1}})["volume"]
    assert made["user_id"] == "alice-id"
    # Anyone of the project sees who made it: in the show and in the detailed list.
    assert _call(client, bob, "GET", f"/volumes/{made['id']}")["volume"]["user_id"] == "alice-id"
    listed = {v["id"]: v["user_id"] for v in _call(client, bob, "GET", "/volumes/detail")["volumes"]}
    assert listed == {made["id"]: "alice-id"}
    assert fast.db_rows("SELECT user_id FROM volumes WHERE id = ?", made["id"]) == [("alice-id",)]


def test_a_local_token_made_without_a_user_is_a_new_user_of_its_own(fast: Fast, client: TestClient) -> None:
    one, two = fast.svc.auth.create_token("p1"), fast.svc.auth.create_token("p1")
    first = _call(client, one, "POST", "/volumes", {"volume": {"size": 1}})["volume"]["user_id"]
    again = _call(client, one, "POST", "/volumes", {"volume": {"size": 1}})["volume"]["user_id"]
    other = _call(client, two, "POST", "/volumes", {"volume": {"size": 1}})["volume"]["user_id"]
    assert HEX32.fullmatch(first) and first == again, "one token, one user"
    assert HEX32.fullmatch(other) and other != first


def test_the_clones_of_clone_volumes_are_the_callers(fast: Fast) -> None:
    source = fast.volume(name="src")  # made by a principal with no user (a volume from before user ids)
    assert source.user_id is None
    carol = Principal("p1", roles=MEMBER_ROLES, user_id="carol-id")
    task = fast.svc.clones.start(carol, CloneRequest("p1", [source.id]))
    assert fast.wait(task).flow_state.value == "SUCCESS"
    clones = [v for v in fast.svc.volumes.list(carol, "p1") if v.id != source.id]
    assert [(c.user_id, fast.get(source.id).user_id) for c in clones] == [("carol-id", None)]


def test_a_snapshot_shows_its_user_from_3_41_only(fast: Fast, client: TestClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(versions, "MAX_VERSION", max(versions.MAX_VERSION, (3, 41)))
    dave = fast.svc.auth.create_token("p1", MEMBER_ROLES, user_id="dave-id")
    vol = _call(client, dave, "POST", "/volumes", {"volume": {"size": 1}})["volume"]
    snap = _call(client, dave, "POST", "/snapshots", {"snapshot": {"volume_id": vol["id"]}})["snapshot"]
    assert "user_id" not in snap, "Cinder shows a snapshot's user_id from 3.41"
    assert "user_id" not in _call(client, dave, "GET", f"/snapshots/{snap['id']}", version="3.40")["snapshot"]
    shown = _call(client, dave, "GET", f"/snapshots/{snap['id']}", version="3.41")["snapshot"]
    assert shown["user_id"] == "dave-id"
    listed = _call(client, dave, "GET", "/snapshots/detail", version="3.41")["snapshots"]
    assert [s["user_id"] for s in listed] == ["dave-id"]


def test_a_keystone_token_stands_for_its_user() -> None:
    token = {"project": {"id": "p-id"}, "user": {"id": "u-id", "name": "bob"}, "roles": [{"name": "member"}]}
    assert principal_of(token) == Principal("p-id", False, frozenset({"member"}), "u-id")
    assert principal_of({"project": {"id": "p-id"}, "roles": []}).user_id is None


def test_migration_0014_adds_user_ids_and_old_tokens_get_a_stable_user(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0013")
        with engine.begin() as c:
            c.execute(text("INSERT INTO tokens (token_hash, project_id, is_admin, roles, created_at) "
                           "VALUES (:h, 'p1', 0, 'member reader', CURRENT_TIMESTAMP)"), {"h": hash_token("old")})
        command.upgrade(cfg, "0014")
        for table in ("volumes", "snapshots", "tokens"):
            assert "user_id" in {col["name"] for col in inspect(engine).get_columns(table)}, table
        assert not [d for d in schema_drift(engine) if "user_id" in repr(d)]
        tokens = Tokens(Database(engine))
        old = tokens.find("old")
        assert old is not None and HEX32.fullmatch(old.user_id or "")
        assert tokens.find("old") == old, "the same user every time"
        assert old.user_id not in hash_token("old"), "not a piece of the stored hash"
        new = AuthService(tokens).create_token("p1", user_id="erin-id")
        assert tokens.find(new) == Principal("p1", False, MEMBER_ROLES, "erin-id")
        command.downgrade(cfg, "0013")
        for table in ("volumes", "snapshots", "tokens"):
            assert "user_id" not in {col["name"] for col in inspect(engine).get_columns(table)}, table
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM tokens")).scalar_one() == 2
    finally:
        engine.dispose()
