"""Volume types and extra specs; ``volume_backend_name`` picks the backend."""

from __future__ import annotations

import socket
import uuid

import pytest

from .support import assert_fault, creates_nothing, unique


def _without_qos(t):
    return {k: v for k, v in t.items() if k != "qos_specs_id"}


@pytest.fixture
def vtype(env):
    """A fresh public type with one extra spec, deleted afterwards if the test left it."""
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("type"), "description": "fixture type", "extra_specs": {"color": "blue"}}})["volume_type"]
    yield t
    if env.admin.request("GET", f"/types/{t['id']}").status_code == 200:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_default_type_exists_from_the_start(env, default_type):
    assert default_type["extra_specs"] == {"volume_backend_name": "local"}
    assert default_type["is_public"] is True
    assert env.admin.ok("GET", "/types/default")["volume_type"] == default_type
    assert default_type["qos_specs_id"] is None and default_type["os-volume-type-access:is_public"] is True
    # A user sees the type but not its backend: only Cinder's user-visible extra specs, and no
    # qos_specs_id (Cinder's volume_extension:access_types_qos_specs_id is admin-only).
    as_user = {**_without_qos(default_type), "extra_specs": {}}
    assert env.user.ok("GET", "/types/default")["volume_type"] == as_user
    assert env.user.ok("GET", f"/types/{default_type['id']}")["volume_type"] == as_user


def test_create_show_list_delete(env):
    name = unique("type")
    r = env.admin.request("POST", "/types", json={"volume_type": {
        "name": name, "description": "fast", "extra_specs": {"volume_backend_name": "local", "tier": "1"}}})
    assert r.status_code == 200, r.text
    t = r.json()["volume_type"]
    uuid.UUID(t["id"])
    assert (t["name"], t["description"], t["is_public"], t["os-volume-type-access:is_public"]) == \
        (name, "fast", True, True)
    assert t["extra_specs"] == {"volume_backend_name": "local", "tier": "1"}
    assert "qos_specs_id" not in t, "Cinder's create answer has no qos_specs_id"
    shown = {**t, "qos_specs_id": None}
    assert env.admin.ok("GET", f"/types/{t['id']}")["volume_type"] == shown
    assert shown in env.admin.ok("GET", "/types")["volume_types"]
    assert env.user.ok("GET", f"/types/{t['id']}")["volume_type"] == {**t, "extra_specs": {}}
    assert {**t, "extra_specs": {}} in env.user.ok("GET", "/types")["volume_types"]
    r = env.admin.request("DELETE", f"/types/{t['id']}")
    assert r.status_code == 202 and r.content == b""
    assert_fault(env.user.request("GET", f"/types/{t['id']}"), 404, t["id"])
    assert t["id"] not in {x["id"] for x in env.user.ok("GET", "/types")["volume_types"]}


@pytest.mark.parametrize("spelling", ["is_public", "os-volume-type-access:is_public"])
def test_create_private_type(env, spelling):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("type"), spelling: False}})
    t = t["volume_type"]
    try:
        assert t["is_public"] is False and t["os-volume-type-access:is_public"] is False
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_users_may_not_create_or_delete_types(env, vtype):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/types", json={"volume_type": {"name": unique("type")}}), 403,
                     "volume_extension:types_manage")
        assert_fault(env.user.request("DELETE", f"/types/{vtype['id']}"), 403, "volume_extension:types_manage")
        assert_fault(env.user.request("POST", f"/types/{vtype['id']}/extra_specs",
                                      json={"extra_specs": {"a": "b"}}), 403, "types_extra_specs:create")
        assert_fault(env.user.request("PUT", f"/types/{vtype['id']}/extra_specs/color", json={"color": "red"}),
                     403, "types_extra_specs:update")
        assert_fault(env.user.request("DELETE", f"/types/{vtype['id']}/extra_specs/color"), 403,
                     "types_extra_specs:delete")
    assert env.admin.ok("GET", f"/types/{vtype['id']}")["volume_type"] == {**vtype, "qos_specs_id": None}


def test_duplicate_name_is_409(env, vtype):
    with creates_nothing(env.server):
        assert_fault(env.admin.request("POST", "/types", json={"volume_type": {"name": vtype["name"]}}), 409,
                     vtype["name"])


@pytest.mark.parametrize("body, says", [
    ({"volume_type": {}}, "name"),
    ({"volume_type": {"name": ""}}, "name"),
    ({"volume_type": {"name": "n" * 256}}, "name"),
    ({"volume_type": {"name": 3}}, "name"),
    ({"volume_type": {"name": "t", "extra_specs": {"a": 1}}}, "extra_specs"),
    ({"volume_type": {"name": "t", "extra_specs": ["a"]}}, "extra_specs"),
    ({"volume_type": {"name": "t", "is_public": "yes"}}, "is_public"),
    ({"volume_type": {"name": "t", "qos": "x"}}, "qos"),
    ({"type": {"name": "t"}}, None),
])
def test_create_refuses_bad_bodies(env, body, says):
    with creates_nothing(env.server):
        assert_fault(env.admin.request("POST", "/types", json=body), 400, says)


def test_unknown_type_is_404(env):
    missing = str(uuid.uuid4())
    assert_fault(env.user.request("GET", f"/types/{missing}"), 404, missing)
    assert_fault(env.user.request("GET", f"/types/{missing}/extra_specs"), 404, missing)
    assert_fault(env.user.request("GET", f"/types/{missing}/extra_specs/a"), 404, missing)
    assert_fault(env.admin.request("DELETE", f"/types/{missing}"), 404, missing)
    assert_fault(env.admin.request("POST", f"/types/{missing}/extra_specs", json={"extra_specs": {"a": "b"}}),
                 404, missing)
    assert_fault(env.admin.request("PUT", f"/types/{missing}/extra_specs/a", json={"a": "b"}), 404, missing)
    assert_fault(env.admin.request("DELETE", f"/types/{missing}/extra_specs/a"), 404, missing)


def test_default_type_cannot_be_deleted(env, default_type):
    assert_fault(env.admin.request("DELETE", f"/types/{default_type['id']}"), 400, "default")
    assert env.user.ok("GET", "/types/default")["volume_type"]["id"] == default_type["id"]


def test_type_in_use_cannot_be_deleted(env, vtype):
    v = env.user.create_volume(1, unique(), volume_type=vtype["id"])
    try:
        assert_fault(env.admin.request("DELETE", f"/types/{vtype['id']}"), 400, "in use")
        assert env.user.ok("GET", f"/types/{vtype['id']}")["volume_type"]["id"] == vtype["id"]
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")
    assert env.admin.request("DELETE", f"/types/{vtype['id']}").status_code == 202


# -- extra specs ----------------------------------------------------------------
def test_extra_specs(env, vtype):
    base = f"/types/{vtype['id']}/extra_specs"
    assert env.admin.ok("GET", base) == {"extra_specs": {"color": "blue"}}
    assert env.admin.ok("POST", base, json={"extra_specs": {"size": "big", "color": "green"}}) == \
        {"extra_specs": {"size": "big", "color": "green"}}
    assert env.admin.ok("GET", base) == {"extra_specs": {"color": "green", "size": "big"}}
    assert env.admin.ok("GET", f"{base}/size") == {"size": "big"}
    assert env.admin.ok("PUT", f"{base}/size", json={"size": "small"}) == {"size": "small"}
    assert env.admin.ok("PUT", f"{base}/new", json={"new": "1"}) == {"new": "1"}
    assert env.admin.ok("GET", f"/types/{vtype['id']}")["volume_type"]["extra_specs"] == \
        {"color": "green", "size": "small", "new": "1"}
    assert 200 <= env.admin.request("DELETE", f"{base}/color").status_code < 300
    assert env.admin.ok("GET", base) == {"extra_specs": {"size": "small", "new": "1"}}
    assert_fault(env.admin.request("GET", f"{base}/color"), 404, "color")
    assert_fault(env.admin.request("DELETE", f"{base}/color"), 404, "color")


@pytest.mark.parametrize("method, sub, body", [
    ("POST", "", {"extra_specs": {"a": 1}}),
    ("POST", "", {"extra_specs": "a=b"}),
    ("POST", "", {"specs": {"a": "b"}}),
    ("PUT", "/a", {"b": "x"}),
    ("PUT", "/a", {"a": "x", "b": "y"}),
    ("PUT", "/a", {"a": 1}),
    ("PUT", "/a", ["a"]),
])
def test_extra_specs_refuse_bad_bodies(env, vtype, method, sub, body):
    assert_fault(env.admin.request(method, f"/types/{vtype['id']}/extra_specs{sub}", json=body), 400)
    assert env.admin.ok("GET", f"/types/{vtype['id']}/extra_specs") == {"extra_specs": {"color": "blue"}}


# -- volume_backend_name ------------------------------------------------------------
def test_volume_backend_name_selects_the_backend(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("type"), "extra_specs": {"volume_backend_name": "local"}}})["volume_type"]
    try:
        v = env.user.create_volume(1, unique(), volume_type=t["id"])
        try:
            assert env.admin.ok("GET", f"/volumes/{v['id']}")["volume"]["os-vol-host-attr:host"] == \
                f"{socket.gethostname()}@local#local"
            assert env.server.active_file(v["id"]).exists()
        finally:
            env.user.ok("DELETE", f"/volumes/{v['id']}")
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_a_type_on_an_unknown_backend_creates_no_volume(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("type"), "extra_specs": {"volume_backend_name": "other"}}})["volume_type"]
    try:
        with creates_nothing(env.server):
            assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": t["id"]}}),
                         400, "other")
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_backend_of_a_type_in_use_cannot_change(env, vtype):
    v = env.user.create_volume(1, unique(), volume_type=vtype["id"])
    try:
        base = f"/types/{vtype['id']}/extra_specs"
        assert_fault(env.admin.request("POST", base, json={"extra_specs": {"volume_backend_name": "other"}}), 400,
                     "volume_backend_name")
        assert_fault(env.admin.request("PUT", f"{base}/volume_backend_name", json={"volume_backend_name": "other"}),
                     400, "volume_backend_name")
        assert env.admin.ok("GET", base) == {"extra_specs": {"color": "blue"}}
        # other specs may change
        env.admin.ok("POST", base, json={"extra_specs": {"color": "red"}})
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")
