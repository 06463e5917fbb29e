"""Version documents and microversions, as python-cinderclient and openstacksdk read them."""

from __future__ import annotations

import httpx
import pytest
from keystoneauth1 import adapter, discover, session, token_endpoint

from volclone.api.versions import MAX_VERSION, fmt

from .support import assert_fault

HEADER = "OpenStack-API-Version"


def check_v3_doc(doc: dict, url: str) -> None:
    """Cinder's v3 version document (cinder/api/views/versions.py)."""
    assert doc["id"] == "v3.0"
    assert doc["status"] == "CURRENT"
    assert doc["min_version"] == "3.0"
    assert doc["version"] == fmt(MAX_VERSION) == "3.71"
    assert isinstance(doc["updated"], str) and doc["updated"].endswith("Z")
    links = {link["rel"]: link for link in doc["links"]}
    assert links["self"]["href"] == f"{url}/v3/"
    assert links["describedby"]["type"] == "text/html"
    assert doc["media-types"] == [{"base": "application/json",
                                   "type": "application/vnd.openstack.volume+json;version=3"}]


def test_root_lists_versions_with_multiple_choices(env):
    r = httpx.get(f"{env.server.url}/")
    assert r.status_code == 300
    versions = r.json()["versions"]
    assert [v["id"] for v in versions] == ["v3.0"]
    check_v3_doc(versions[0], env.server.url)


@pytest.mark.parametrize("path", ["/v3/", "/v3"])
def test_v3_document_needs_no_token(env, path):
    r = httpx.get(f"{env.server.url}{path}")
    assert r.status_code == 200
    versions = r.json()["versions"]
    assert len(versions) == 1
    check_v3_doc(versions[0], env.server.url)


@pytest.mark.parametrize("root", ["/", "/v3/", "/v3"])
def test_keystoneauth_discovery_finds_the_microversion_range(env, root):
    """What openstacksdk (and cinderclient's get_server_version) do to negotiate."""
    disc = discover.Discover(session.Session(), f"{env.server.url}{root}")
    [data] = disc.version_data()
    assert data["version"] == (3, 0)
    assert data["min_microversion"] == (3, 0)
    assert data["max_microversion"] == MAX_VERSION
    assert data["url"] == f"{env.server.url}/v3/"
    assert data["status"] == "CURRENT"


def test_project_endpoint_discovery_as_openstacksdk_does_it(env):
    """Given ``/v3/{project_id}``, keystoneauth strips the project and reads ``/v3``."""
    url = f"{env.server.url}/v3/p1"
    sess = session.Session(auth=token_endpoint.Token(url, env.user_token))
    block = adapter.Adapter(sess, service_type="block-storage", endpoint_override=url, version="3")
    data = block.get_endpoint_data()
    assert data.min_microversion == (3, 0)
    assert data.max_microversion == MAX_VERSION
    assert data.api_version == (3, 0)


@pytest.mark.parametrize("asked, answered", [
    (None, "volume 3.0"),
    ("volume 3.0", "volume 3.0"),
    ("volume 3.5", "volume 3.5"),
    ("volume 3.27", "volume 3.27"),
    ("volume 3.71", "volume 3.71"),
    ("volume latest", f"volume {fmt(MAX_VERSION)}"),
    ("VOLUME 3.12", "volume 3.12"),
    ("compute 2.1", "volume 3.0"),
    ("compute 2.1, volume 3.10", "volume 3.10"),
])
def test_microversion_is_answered(env, asked, answered):
    headers = {HEADER: asked} if asked else {}
    r = env.user.request("GET", "/volumes", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers[HEADER] == answered
    assert HEADER.lower() in r.headers["vary"].lower()


@pytest.mark.parametrize("asked", ["volume 3.72", "volume 2.0", "volume 4.0", "volume 3.100"])
def test_unsupported_microversion_is_not_acceptable(env, asked):
    assert_fault(env.user.request("GET", "/volumes", headers={HEADER: asked}), 406, "not supported")


@pytest.mark.parametrize("asked", ["volume 3.x", "volume 3", "volume 3.1.2", "volume v3.1"])
def test_malformed_microversion_is_bad_request(env, asked):
    assert_fault(env.user.request("GET", "/volumes", headers={HEADER: asked}), 400, "version")


def test_microversion_is_checked_after_the_token(env):
    r = httpx.get(f"{env.server.url}/v3/p1/volumes", headers={HEADER: "volume 9.9"})
    assert_fault(r, 401)
