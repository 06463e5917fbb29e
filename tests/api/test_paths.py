"""Every path is authenticated first (401/403), whatever its project segment holds; only then
come 400/404. A microversion of any length is a 4xx, never a 500."""

from __future__ import annotations

import httpx
import pytest

from .support import assert_fault

ODD_PROJECTS = ["%09", "%0A", "%0D", "%20", "%20%09", "%00", "%7F", "%C2%85", ""]


@pytest.mark.parametrize("segment", ODD_PROJECTS)
@pytest.mark.parametrize("rest", ["/volumes", "/volumes/detail", "/types", "/clone-volumes", "/no-such"])
def test_an_odd_project_segment_is_authenticated_first(env, segment, rest):
    url = f"{env.server.url}/v3/{segment}{rest}"
    assert_fault(httpx.get(url), 401, "token")
    assert_fault(httpx.get(url, headers={"X-Auth-Token": "forged"}), 401, "token")
    assert_fault(httpx.get(url, headers={"X-Auth-Token": env.user_token}), 403, "Policy doesn't allow")
    # An admin may act on any project, but this one can't be named: a 400, not a 500.
    assert_fault(httpx.get(url, headers={"X-Auth-Token": env.admin_token}), 400, "not a valid project id")


def test_a_post_to_an_odd_project_reads_no_body(env):
    url = f"{env.server.url}/v3/%09/volumes"
    before = env.server.db_rows("SELECT id FROM volumes")
    assert_fault(httpx.post(url, json={"volume": {"size": 1}}), 401)
    assert_fault(httpx.post(url, json={"volume": {"size": 1}}, headers={"X-Auth-Token": env.admin_token}), 400)
    assert env.server.db_rows("SELECT id FROM volumes") == before


@pytest.mark.parametrize("path", ["/nothing", "/v2/p1/volumes", "/v3x", "/docs"])
def test_paths_outside_v3_need_a_token_too(env, path):
    assert_fault(httpx.get(f"{env.server.url}{path}"), 401, "token")
    assert_fault(httpx.get(f"{env.server.url}{path}", headers={"X-Auth-Token": env.user_token}), 404)


@pytest.mark.parametrize("path, status", [("/", 300), ("/v3", 200), ("/v3/", 200)])
def test_version_documents_are_public(env, path, status):
    assert httpx.get(f"{env.server.url}{path}").status_code == status


@pytest.mark.parametrize("version", [
    "3." + "1" * 5000, "1" * 5000 + ".0", "3." + "0" * 4301 + "27", "3.\u0663", "\u0663.27", "3.27.1", "3.", ".27",
])
def test_an_unparsable_microversion_is_400(env, version):
    r = env.user.request("GET", "/volumes", headers={"OpenStack-API-Version": f"volume {version}".encode()})
    message = assert_fault(r, 400, "invalid API version")
    assert len(message) < 200


def test_a_microversion_out_of_range_is_406(env):
    r = env.user.request("GET", "/volumes", headers={"OpenStack-API-Version": "volume 3.999999"})
    assert_fault(r, 406, "not supported")
