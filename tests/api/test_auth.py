"""Tokens and projects: 401 without a valid token, 403 outside the token's project, on every endpoint."""

from __future__ import annotations

import httpx
import pytest

from .support import assert_fault, creates_nothing, unique

VOL = "3f0e1c1e-0000-4000-8000-000000000001"
TYPE = "3f0e1c1e-0000-4000-8000-000000000002"
TASK = "3f0e1c1e-0000-4000-8000-000000000003"

#: (method, path under /v3/{project}, JSON body): every endpoint that acts on a project.
ENDPOINTS = [
    ("GET", "/volumes", None),
    ("GET", "/volumes/detail", None),
    ("POST", "/volumes", {"volume": {"size": 1, "name": "x"}}),
    ("GET", f"/volumes/{VOL}", None),
    ("PUT", f"/volumes/{VOL}", {"volume": {"name": "y"}}),
    ("DELETE", f"/volumes/{VOL}", None),
    ("GET", f"/volumes/{VOL}/metadata", None),
    ("POST", f"/volumes/{VOL}/metadata", {"metadata": {"k": "v"}}),
    ("PUT", f"/volumes/{VOL}/metadata", {"metadata": {"k": "v"}}),
    ("GET", f"/volumes/{VOL}/metadata/k", None),
    ("PUT", f"/volumes/{VOL}/metadata/k", {"meta": {"k": "v"}}),
    ("DELETE", f"/volumes/{VOL}/metadata/k", None),
    ("GET", "/types", None),
    ("POST", "/types", {"volume_type": {"name": "x"}}),
    ("GET", "/types/default", None),
    ("GET", f"/types/{TYPE}", None),
    ("DELETE", f"/types/{TYPE}", None),
    ("GET", f"/types/{TYPE}/extra_specs", None),
    ("POST", f"/types/{TYPE}/extra_specs", {"extra_specs": {"k": "v"}}),
    ("GET", f"/types/{TYPE}/extra_specs/k", None),
    ("PUT", f"/types/{TYPE}/extra_specs/k", {"k": "v"}),
    ("DELETE", f"/types/{TYPE}/extra_specs/k", None),
    ("POST", "/clone-volumes", {"clone-volumes": {"volumes": [VOL]}}),
    ("GET", f"/clone-volumes/get_progress?action=clone-volumes&task_id={TASK}", None),
]
IDS = [f"{m} {p.split('?')[0]}" for m, p, _ in ENDPOINTS]


def call(env, project, token, method, path, body, **kw):
    headers = {"X-Auth-Token": token} if token else {}
    return httpx.request(method, f"{env.server.url}/v3/{project}{path}", json=body, headers=headers,
                         timeout=30, **kw)


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=IDS)
def test_missing_token_is_401(env, method, path, body):
    with creates_nothing(env.server):
        assert_fault(call(env, "p1", None, method, path, body), 401, "token")


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=IDS)
def test_invalid_token_is_401(env, method, path, body):
    with creates_nothing(env.server):
        assert_fault(call(env, "p1", "not-a-token", method, path, body), 401, "token")


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=IDS)
def test_other_project_is_403(env, method, path, body):
    with creates_nothing(env.server):
        assert_fault(call(env, "p2", env.user_token, method, path, body), 403, "Policy doesn't allow")


@pytest.mark.parametrize("method, path", [("POST", "/clone-volumes"), ("POST", "/volumes"),
                                          ("PUT", f"/volumes/{VOL}"), ("POST", "/types")])
def test_token_is_checked_before_the_body(env, method, path):
    """An unauthenticated caller learns nothing about what its request got wrong."""
    url = f"{env.server.url}/v3/p1{path}"
    assert_fault(httpx.request(method, url, content=b"{not json", headers={"Content-Type": "application/json"}),
                 401)
    assert_fault(httpx.request(method, url, content=b"{}", headers={"Content-Type": "text/plain"}), 401)
    # Policy comes before the body too: a user may not create types, so it learns nothing of its body.
    allowed = env.admin_token if path == "/types" else env.user_token
    if path == "/types":
        assert_fault(httpx.request(method, url, content=b"{not json", headers={
            "Content-Type": "application/json", "X-Auth-Token": env.user_token}), 403, "types_manage")
    assert_fault(httpx.request(method, url, content=b"{not json",
                               headers={"Content-Type": "application/json", "X-Auth-Token": allowed}),
                 400, "JSON")
    r = httpx.request(method, url.replace("/p1/", "/p2/"), content=b"{not json",
                      headers={"Content-Type": "application/json", "X-Auth-Token": env.user_token})
    assert_fault(r, 403)


def test_token_is_checked_on_unknown_paths_too(env):
    assert_fault(httpx.get(f"{env.server.url}/v3/p1/no-such-thing"), 401)
    assert_fault(env.user.request("GET", "/no-such-thing"), 404)


def test_empty_token_header_is_401(env):
    assert_fault(httpx.get(f"{env.server.url}/v3/p1/volumes", headers={"X-Auth-Token": ""}), 401)


def test_admin_token_acts_on_any_project(env):
    name = unique()
    vol = env.admin.create_volume(1, name)
    try:
        assert env.admin.ok("GET", f"/volumes/{vol['id']}")["volume"]["os-vol-tenant-attr:tenant_id"] == "p1"
        assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["name"] == name
        # the admin sees the backend host, a user does not (Cinder's os-vol-host-attr:host)
        assert env.admin.ok("GET", f"/volumes/{vol['id']}")["volume"]["os-vol-host-attr:host"].endswith("#local")
        assert "os-vol-host-attr:host" not in env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    finally:
        env.user.ok("DELETE", f"/volumes/{vol['id']}")


def test_projects_do_not_see_each_others_volumes(env, other):
    mine = env.user.create_volume(1, unique())
    try:
        assert_fault(other.request("GET", f"/volumes/{mine['id']}"), 404)
        assert_fault(other.request("PUT", f"/volumes/{mine['id']}", json={"volume": {"name": "stolen"}}), 404)
        assert_fault(other.request("DELETE", f"/volumes/{mine['id']}"), 404)
        assert_fault(other.request("POST", f"/volumes/{mine['id']}/metadata", json={"metadata": {"a": "b"}}),
                     404)
        assert mine["id"] not in {v["id"] for v in other.ok("GET", "/volumes/detail")["volumes"]}
        after = env.user.ok("GET", f"/volumes/{mine['id']}")["volume"]
        assert (after["name"], after["metadata"]) == (mine["name"], {})
    finally:
        env.user.ok("DELETE", f"/volumes/{mine['id']}")


def test_all_tenants_is_for_admins_only(env, other):
    theirs = other.create_volume(1, unique())
    try:
        ids_admin = {v["id"] for v in env.admin.ok("GET", "/volumes", params={"all_tenants": "1"})["volumes"]}
        ids_user = {v["id"] for v in env.user.ok("GET", "/volumes", params={"all_tenants": "1"})["volumes"]}
        assert theirs["id"] in ids_admin
        assert theirs["id"] not in ids_user
    finally:
        other.ok("DELETE", f"/volumes/{theirs['id']}")
