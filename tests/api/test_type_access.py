"""Over HTTP: ``PUT /types/{id}``, type access (``os-volume-type-access``, ``addProjectAccess`` /
``removeProjectAccess``) and ``?is_public=``, with Cinder's policy rules and answers."""

from __future__ import annotations

import pytest

from .support import assert_fault, creates_nothing, unique


@pytest.fixture
def private(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("private"), "is_public": False}})
    t = t["volume_type"]
    yield t
    for v in env.admin.ok("GET", "/volumes/detail", params={"all_tenants": 1})["volumes"]:
        if v["volume_type"] == t["name"]:
            env.admin.ok("DELETE", f"/volumes/{v['id']}")
    env.admin.ok("DELETE", f"/types/{t['id']}")


def _action(api, type_id, name, project):
    return api.request("POST", f"/types/{type_id}/action", json={name: {"project": project}})


def test_a_granted_project_lists_shows_and_uses_the_private_type(env, other, private):
    r = _action(env.admin, private["id"], "addProjectAccess", "p1")
    assert r.status_code == 202 and r.content == b"", r.text
    assert env.admin.ok("GET", f"/types/{private['id']}/os-volume-type-access") == {
        "volume_type_access": [{"volume_type_id": private["id"], "project_id": "p1"}]}
    assert private["id"] in {t["id"] for t in env.user.ok("GET", "/types")["volume_types"]}
    shown = env.user.ok("GET", f"/types/{private['id']}")["volume_type"]
    assert shown == {**private, "extra_specs": {}}  # a member: is_public both ways, no qos_specs_id
    v = env.user.create_volume(1, unique(), volume_type=private["name"])
    assert v["volume_type"] == private["name"]
    # p2 was granted nothing
    assert private["id"] not in {t["id"] for t in other.ok("GET", "/types")["volume_types"]}
    assert_fault(other.request("GET", f"/types/{private['id']}"), 404, private["id"])

    r = _action(env.admin, private["id"], "removeProjectAccess", "p1")
    assert r.status_code == 202 and r.content == b"", r.text
    assert env.admin.ok("GET", f"/types/{private['id']}/os-volume-type-access") == {"volume_type_access": []}
    assert_fault(env.user.request("GET", f"/types/{private['id']}"), 404, private["id"])


def test_type_access_answers_as_cinder_does(env, private, default_type):
    assert _action(env.admin, private["id"], "addProjectAccess", "p1").status_code == 202
    assert_fault(_action(env.admin, private["id"], "addProjectAccess", "p1"), 409, "already exists")
    assert_fault(_action(env.admin, private["id"], "removeProjectAccess", "p9"), 404, "not found")
    assert_fault(env.admin.request("GET", f"/types/{default_type['id']}/os-volume-type-access"), 404,
                 "public volume types")
    assert_fault(_action(env.admin, "no-such-type", "addProjectAccess", "p1"), 404, "no-such-type")
    for body in ({"addProjectAccess": {}}, {"addProjectAccess": {"project": ""}}, {"fly": {"project": "p1"}},
                 {"addProjectAccess": {"project": "p1"}, "removeProjectAccess": {"project": "p1"}},
                 {"addProjectAccess": {"project": "p1\n"}}, {"addProjectAccess": None}):
        assert_fault(env.admin.request("POST", f"/types/{private['id']}/action", json=body), 400)


def test_only_admins_manage_types_and_their_access(env, private):
    with creates_nothing(env.server):
        assert_fault(env.user.request("PUT", f"/types/{private['id']}", json={"volume_type": {"name": "x"}}), 403,
                     "volume_extension:types_manage")
        assert_fault(env.user.request("GET", f"/types/{private['id']}/os-volume-type-access"), 403,
                     "volume_extension:volume_type_access:get_all_for_type")
        for name in ("addProjectAccess", "removeProjectAccess"):
            assert_fault(_action(env.user, private["id"], name, "p1"), 403,
                         f"volume_extension:volume_type_access:{name}")
    assert env.admin.ok("GET", f"/types/{private['id']}/os-volume-type-access") == {"volume_type_access": []}


def test_put_updates_a_type_and_answers_with_cinders_update_body(env, other):
    name = unique("type")
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": name, "description": "d"}})["volume_type"]
    try:
        renamed = unique("renamed")
        u = env.admin.ok("PUT", f"/types/{t['id']}", json={"volume_type": {"name": renamed, "is_public": False}})
        assert u == {"volume_type": {"id": t["id"], "name": renamed, "description": "d", "is_public": False,
                                     "extra_specs": {}}}
        assert t["id"] not in {x["id"] for x in other.ok("GET", "/types")["volume_types"]}
        assert_fault(other.request("GET", f"/types/{t['id']}"), 404)
        u = env.admin.ok("PUT", f"/types/{t['id']}", json={"volume_type": {"is_public": True, "description": None}})
        assert (u["volume_type"]["is_public"], u["volume_type"]["description"]) == (True, "d")
        assert other.ok("GET", f"/types/{t['id']}")["volume_type"]["name"] == renamed
        # openstacksdk's spelling (openstack volume type set --private) is taken too
        u = env.admin.ok("PUT", f"/types/{t['id']}", json={"volume_type": {"os-volume-type-access:is_public": False}})
        assert u["volume_type"]["is_public"] is False
        assert_fault(env.admin.request("PUT", f"/types/{t['id']}", json={"volume_type": {
            "is_public": True, "os-volume-type-access:is_public": False}}), 400, "disagree")
        env.admin.ok("PUT", f"/types/{t['id']}", json={"volume_type": {"is_public": True}})
        with creates_nothing(env.server):
            assert_fault(env.admin.request("PUT", f"/types/{t['id']}", json={"volume_type": {}}), 400,
                         "Specify volume type name")
            assert_fault(env.admin.request("PUT", f"/types/{t['id']}",
                                           json={"volume_type": {"name": "__DEFAULT__"}}), 409, "__DEFAULT__")
            assert_fault(env.admin.request("PUT", f"/types/{t['id']}",
                                           json={"volume_type": {"is_public": "maybe"}}), 400)
            assert_fault(env.admin.request("PUT", "/types/no-such-type", json={"volume_type": {"name": "n"}}), 404)
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_the_default_type_stays_public_and_named(env, default_type):
    for change in ({"is_public": False}, {"name": unique("renamed")}):
        assert_fault(env.admin.request("PUT", f"/types/{default_type['id']}", json={"volume_type": change}), 400,
                     "default volume type")


def test_is_public_filters_the_admins_list_only(env, private):
    def ids(api, **params):
        return {t["id"] for t in api.ok("GET", "/types", params=params)["volume_types"]}

    assert private["id"] not in ids(env.admin)
    assert private["id"] in ids(env.admin, is_public="false") and private["id"] in ids(env.admin, is_public="none")
    assert all(not t["is_public"] for t in env.admin.ok("GET", "/types", params={"is_public": "false"})["volume_types"])
    assert ids(env.admin, is_public="true") == ids(env.admin)
    assert_fault(env.admin.request("GET", "/types", params={"is_public": "maybe"}), 400, "Invalid is_public filter")
    # Others get public types (and their grants) whatever they ask, as in Cinder, which reads no filter of theirs.
    for ask in ("false", "none", "maybe"):
        assert private["id"] not in ids(env.user, is_public=ask)
        assert ids(env.user, is_public=ask) == ids(env.user)
