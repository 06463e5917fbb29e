"""X-Auth-Token validated by a real Keystone, through a real ``volclone serve`` with
``VOLCLONE_AUTH=keystone``: valid, expired, revoked, unscoped and domain-scoped tokens, project
scope, the admin/member/reader roles, and Keystone down."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import httpx

from conftest import Server, free_port, make_token

from .conftest import SHORT_EXPIRATION_S, Cloud, Keystone

FAULTS = {401: "unauthorized", 403: "forbidden", 503: "serviceUnavailable"}


def assert_fault(r: httpx.Response, status: int, contains: str | None = None) -> str:
    """``status`` with exactly ``{faultName: {"code": status, "message": ...}}``; returns the message."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    assert body == {FAULTS[status]: {"code": status, "message": body[FAULTS[status]]["message"]}}, body
    message = str(body[FAULTS[status]]["message"])
    assert contains is None or contains.lower() in message.lower(), message
    return message


def refused_until(check, what: str, timeout: float = 30) -> None:
    """Poll ``check()`` until it is true (no timing is asserted, only that it happens)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout}s"
        time.sleep(0.1)


def test_a_valid_project_token_acts_on_its_project(cloud: Cloud, server: Server):
    project = cloud.projects["proj-a"]
    api = server.client(cloud.token("bob", "proj-a"), project)
    vol = api.create_volume(1, name="ks-valid")
    assert vol["name"] == "ks-valid"
    assert vol["id"] in {v["id"] for v in api.ok("GET", "/volumes")["volumes"]}
    api.ok("DELETE", f"/volumes/{vol['id']}")


def test_missing_invalid_and_local_tokens_are_401(cloud: Cloud, server: Server):
    project = cloud.projects["proj-a"]
    assert_fault(server.client(None, project).request("GET", "/volumes"), 401)
    assert_fault(server.client("not-a-token", project).request("GET", "/volumes"), 401, "not valid")
    # A fernet-looking token Keystone never issued.
    assert_fault(server.client("gAAAAAB" + "x" * 180, project).request("GET", "/volumes"), 401, "not valid")
    # volclone's own tokens mean nothing once Keystone authenticates.
    local = make_token(server.data_dir, project, admin=True)
    assert_fault(server.client(local, project).request("GET", "/volumes"), 401, "not valid")


def test_unscoped_and_domain_scoped_tokens_are_403(cloud: Cloud, server: Server):
    project = cloud.projects["proj-a"]
    unscoped = cloud.token("bob")
    assert_fault(server.client(unscoped, project).request("GET", "/volumes"), 403, "unscoped")
    domain_scoped = cloud.token("dora", domain="default")
    assert_fault(server.client(domain_scoped, project).request("GET", "/volumes"), 403, "domain-scoped")


def test_a_project_token_may_not_act_on_another_project(cloud: Cloud, server: Server):
    a, b = cloud.projects["proj-a"], cloud.projects["proj-b"]
    dave = cloud.token("dave", "proj-b")
    assert server.client(dave, b).request("GET", "/volumes").status_code == 200
    assert_fault(server.client(dave, a).request("GET", "/volumes"), 403, "volume:get_all")
    assert_fault(server.client(cloud.token("bob", "proj-a"), b).request("GET", "/volumes"), 403, "volume:get_all")


def test_roles_reach_the_server(cloud: Cloud, server: Server):
    """admin (Keystone role ``admin``) may create volume types and act on any project; member and
    reader may not; a reader reads and does not write (the policy's personas, from Keystone's roles)."""
    a, b = cloud.projects["proj-a"], cloud.projects["proj-b"]
    alice = server.client(cloud.token("alice", "proj-a"), a)
    body = {"volume_type": {"name": f"ks-{uuid.uuid4().hex[:8]}"}}
    created = alice.ok("POST", "/types", json=body)["volume_type"]
    for user in ("bob", "carol"):
        r = server.client(cloud.token(user, "proj-a"), a).request("POST", "/types",
                                                                  json={"volume_type": {"name": f"{user}-t"}})
        assert_fault(r, 403, "volume_extension:types_manage")
    assert server.client(cloud.token("carol", "proj-a"), a).request("GET", "/volumes").status_code == 200
    r = server.client(cloud.token("carol", "proj-a"), a).request("POST", "/volumes", json={"volume": {"size": 1}})
    assert_fault(r, 403, "volume:create")
    # The admin role acts on every project, as Cinder's default policy lets it.
    assert server.client(cloud.token("alice", "proj-a"), b).request("GET", "/volumes").status_code == 200
    alice.ok("DELETE", f"/types/{created['id']}")


def test_a_revoked_token_is_refused_within_the_cache_bound(cloud: Cloud, server: Server):
    project = cloud.projects["proj-a"]
    token = cloud.token("bob", "proj-a")
    api = server.client(token, project)
    assert api.request("GET", "/volumes").status_code == 200  # validated, now cached (CACHE_S)
    r = cloud.admin.request("DELETE", "/auth/tokens", headers={"X-Subject-Token": token})
    assert r.status_code == 204, r.text
    assert cloud.admin.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404
    refused_until(lambda: api.request("GET", "/volumes").status_code == 401, "refusing the revoked token")
    assert_fault(api.request("GET", "/volumes"), 401, "not valid")


def test_an_expired_token_is_refused(cloud: Cloud, server: Server, short_keystone: Keystone):
    project = cloud.projects["proj-a"]
    r = httpx.post(f"{short_keystone.url}/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "bob", "domain": {"id": "default"}, "password": "bob-secret"}}},
        "scope": {"project": {"id": project}}}})
    assert r.status_code == 201, r.text
    token, expires_at = r.headers["X-Subject-Token"], datetime.fromisoformat(r.json()["token"]["expires_at"])
    assert (expires_at - datetime.fromisoformat(r.json()["token"]["issued_at"])).total_seconds() \
        == SHORT_EXPIRATION_S
    api = server.client(token, project)
    r = api.request("GET", "/volumes")
    if time.time() < expires_at.timestamp():  # answered before it expired (a loaded machine may be slower)
        assert r.status_code == 200, r.text
    refused_until(lambda: cloud.admin.get("/auth/tokens", headers={"X-Subject-Token": token}).status_code == 404,
                  "Keystone expiring the token")
    assert_fault(api.request("GET", "/volumes"), 401, "not valid")


def test_keystone_down_is_503_and_lets_nothing_through(cloud: Cloud, short_keystone: Keystone,
                                                       tmp_path_factory):
    """A server whose Keystone stops: every token is refused with 503 serviceUnavailable, no
    traceback, no Keystone address; nothing was created."""
    srv = Server(tmp_path_factory.mktemp("volclone-keystone-down"), free_port(),
                 env=cloud.volclone_env(short_keystone.url, cache_s=0))
    srv.start()
    try:
        project = cloud.projects["proj-a"]
        api = srv.client(cloud.token("bob", "proj-a"), project)
        assert api.request("GET", "/volumes").status_code == 200
        short_keystone.stop()
        for method, path, body in (("GET", "/volumes", None),
                                   ("POST", "/volumes", {"volume": {"size": 1, "name": "while-down"}})):
            r = api.request(method, path, json=body)
            message = assert_fault(r, 503)
            assert "Traceback" not in r.text and str(short_keystone.port) not in r.text, r.text
            assert "identity service" in message
        assert srv.db_rows("SELECT id FROM volumes") == []
        assert "Traceback" not in srv.log()
        assert "cannot validate a token with Keystone" in srv.log()
    finally:
        srv.stop()
