"""Private volume types (``is_public: false``) are visible to admins and the projects granted them
(tests/api/test_type_access.py): to any other project they do not exist (404) -- in lists, shows,
extra specs, volume creates and clone-volumes' ``target-volume-type-id``. Users see only Cinder's
user-visible extra specs, never ``volume_backend_name`` or ``clone_mode``."""

from __future__ import annotations

import socket

import pytest

from .support import assert_fault, clone_body, creates_nothing, unique

SPECS = {"volume_backend_name": "local", "clone_mode": "linked", "tier": "gold", "multiattach": "<is> False",
         "replication_enabled": "<is> False", "RESKEY:availability_zones": "nova"}
USER_VISIBLE = {"multiattach": "<is> False", "replication_enabled": "<is> False",
                "RESKEY:availability_zones": "nova"}


@pytest.fixture
def private(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("private"), "is_public": False, "extra_specs": SPECS}})["volume_type"]
    yield t
    env.admin.ok("DELETE", f"/types/{t['id']}")


@pytest.fixture
def public(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("public"), "extra_specs": SPECS}})["volume_type"]
    yield t
    env.admin.ok("DELETE", f"/types/{t['id']}")


def test_users_do_not_see_a_private_type(env, other, private):
    for user in (env.user, other):
        assert private["id"] not in {t["id"] for t in user.ok("GET", "/types")["volume_types"]}
        for path in (f"/types/{private['id']}", f"/types/{private['id']}/extra_specs",
                     f"/types/{private['id']}/extra_specs/tier"):
            assert_fault(user.request("GET", path), 404, private["id"])


def test_admins_see_a_private_type_whole(env, private):
    shown = {**private, "qos_specs_id": None}
    # Cinder's lists show admins the public types (and their own project's grants) unless asked.
    assert private["id"] not in {t["id"] for t in env.admin.ok("GET", "/types")["volume_types"]}
    for ask in ("none", "false", "False", "0"):
        assert shown in env.admin.ok("GET", "/types", params={"is_public": ask})["volume_types"]
    assert env.admin.ok("GET", f"/types/{private['id']}")["volume_type"] == shown
    assert env.admin.ok("GET", f"/types/{private['id']}/extra_specs") == {"extra_specs": SPECS}


def test_users_can_not_create_volumes_of_a_private_type(env, private):
    with creates_nothing(env.server):
        for ref in (private["id"], private["name"]):
            r = env.user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": ref}})
            assert_fault(r, 404, f"volume type {ref} could not be found")


def test_admins_can_create_volumes_of_a_private_type(env, private):
    v = env.admin.create_volume(1, unique(), volume_type=private["name"])
    try:
        assert v["volume_type"] == private["name"]
    finally:
        env.admin.ok("DELETE", f"/volumes/{v['id']}")


def test_a_private_type_is_no_clone_target_for_users(env, private):
    src = env.user.create_volume(1, unique())
    try:
        with creates_nothing(env.server):
            r = env.user.request("POST", "/clone-volumes",
                                 json=clone_body([src["id"]], **{"target-volume-type-id": private["id"]}))
            assert_fault(r, 404, private["id"])
    finally:
        env.user.ok("DELETE", f"/volumes/{src['id']}")


def test_users_see_only_the_user_visible_extra_specs(env, public):
    assert env.admin.ok("GET", f"/types/{public['id']}")["volume_type"]["extra_specs"] == SPECS
    shown = env.user.ok("GET", f"/types/{public['id']}")["volume_type"]
    assert shown["extra_specs"] == USER_VISIBLE
    listed = next(t for t in env.user.ok("GET", "/types")["volume_types"] if t["id"] == public["id"])
    assert listed["extra_specs"] == USER_VISIBLE
    base = f"/types/{public['id']}/extra_specs"
    assert env.user.ok("GET", base) == {"extra_specs": USER_VISIBLE}
    assert env.user.ok("GET", f"{base}/multiattach") == {"multiattach": "<is> False"}
    for hidden in ("volume_backend_name", "clone_mode", "tier"):
        assert_fault(env.user.request("GET", f"{base}/{hidden}"), 404, hidden)
    default = env.user.ok("GET", "/types/default")["volume_type"]
    assert "volume_backend_name" not in default["extra_specs"]


def test_a_volume_of_a_public_type_still_goes_to_its_backend(env, public):
    """Hiding the specs from users changes nothing about what they select."""
    v = env.user.create_volume(1, unique(), volume_type=public["name"])
    try:
        host = env.admin.ok("GET", f"/volumes/{v['id']}")["volume"]["os-vol-host-attr:host"]
        assert host == f"{socket.gethostname()}@local#local"
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")
