"""Volume lists over HTTP on a real server: next links followed as a client follows them, faults for
bad paging, the 3.12 summary, and python-cinderclient and openstackclient paging with
--limit/--marker/--sort. Each test works in a project of its own, so the shared server's other
volumes are not in its lists."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_token

from .support import assert_fault

BIN = Path(sys.executable).parent
MV_3_12 = {"OpenStack-API-Version": "volume 3.12"}
MV_3_27 = {"OpenStack-API-Version": "volume 3.27"}


@pytest.fixture
def project(env: Any) -> Any:
    """A user of a new project with five volumes named n0..n4, made in that order."""
    name = f"lists-{uuid.uuid4().hex[:8]}"
    token = make_token(env.server.data_dir, name)
    api = env.server.client(token, name)
    api.token = token
    api.vols = [api.create_volume(1 + i % 2, f"n{i}", metadata={"i": str(i)}) for i in range(5)]
    yield api
    for v in api.vols:
        api.request("DELETE", f"/volumes/{v['id']}")


def test_a_full_page_links_the_next_one_and_following_links_lists_everything(project):
    for collection in ("volumes", "volumes/detail"):
        url = f"/{collection}?limit=2&sort=name:asc"
        seen, links = [], []
        while True:
            body = project.ok("GET", url)
            assert set(body) <= {"volumes", "volumes_links"}
            seen += [v["name"] for v in body["volumes"]]
            if "volumes_links" not in body:
                break
            [link] = body["volumes_links"]
            links.append(link)
            assert link["rel"] == "next"
            url = link["href"]  # absolute: the client follows it as it is
        assert seen == ["n0", "n1", "n2", "n3", "n4"]
        assert len(links) == 2  # pages of 2, 2 and 1: the last one is not full
        base = f"{project.server.url}/v3/{project.project}/{collection}"
        assert links[0]["href"] == f"{base}?limit=2&sort=name%3Aasc&marker={project.vols[1]['id']}"


def test_a_page_that_ends_the_list_exactly_still_links_one_more(project):
    body = project.ok("GET", "/volumes", params={"limit": "5"})
    [link] = body["volumes_links"]
    assert project.ok("GET", link["href"]) == {"volumes": []}
    assert "volumes_links" not in project.ok("GET", "/volumes", params={"limit": "6"})
    assert "volumes_links" not in project.ok("GET", "/volumes")  # under 1,000: one page


def test_filters_sort_and_offset_over_http(project):
    assert [v["name"] for v in project.ok("GET", "/volumes", params={"sort": "size:desc,name:asc"})["volumes"]] \
        == ["n1", "n3", "n0", "n2", "n4"]
    assert [v["name"] for v in project.ok("GET", "/volumes/detail", params={"metadata": '{"i": "3"}'})["volumes"]] \
        == ["n3"]
    assert [v["name"] for v in project.ok("GET", "/volumes", params={"sort_key": "name", "sort_dir": "asc",
                                                                      "offset": "3"})["volumes"]] == ["n3", "n4"]
    assert [v["name"] for v in project.ok("GET", "/volumes")["volumes"]] == ["n4", "n3", "n2", "n1", "n0"]


@pytest.mark.parametrize(("params", "says"), [
    ({"limit": "abc"}, "limit param must be an integer"), ({"limit": "-1"}, "limit param must be positive"),
    ({"offset": "-1"}, "offset must be >= 0"), ({"sort": "colour:asc"}, "Invalid sort key"),
    ({"sort": "name:upward"}, "must be 'desc' or 'asc'"), ({"sort": "name", "sort_dir": "asc"}, "sort_key"),
    ({"all_tenants": "perhaps"}, "not a boolean"), ({"bootable": "perhaps"}, "not a boolean"),
])
def test_bad_paging_and_filters_are_400s(project, params, says):
    for path in ("/volumes", "/volumes/detail"):  # at 3.27: booleans are strict from 3.2
        assert_fault(project.request("GET", path, params=params, headers=MV_3_27), 400, says)


def test_booleans_are_lenient_below_3_2(project):
    assert len(project.ok("GET", "/volumes", params={"bootable": "perhaps"})["volumes"]) == 5


def test_a_marker_that_is_no_volume_of_the_caller_is_a_404(project, env):
    theirs = env.user.create_volume(1, "not-yours")
    try:
        for marker in (str(uuid.UUID(int=7)), theirs["id"]):
            assert_fault(project.request("GET", "/volumes/detail", params={"marker": marker}), 404, marker)
    finally:
        env.user.ok("DELETE", f"/volumes/{theirs['id']}")


def test_summary_from_3_12(project):
    assert project.ok("GET", "/volumes/summary", headers=MV_3_12) == {
        "volume-summary": {"total_count": 5, "total_size": 7}}
    assert_fault(project.request("GET", "/volumes/summary"), 404, "3.12")  # 3.0: no such method
    assert_fault(project.request("GET", "/volumes/summary", headers=MV_3_12, params={"all_tenants": "x"}), 400)


def test_the_summary_counts_every_project_for_an_admin_with_all_tenants(project, env):
    mine = env.admin.ok("GET", "/volumes/summary", headers=MV_3_12)["volume-summary"]
    everyone = env.admin.ok("GET", "/volumes/summary", headers=MV_3_12,
                            params={"all_tenants": "1"})["volume-summary"]
    assert everyone["total_count"] >= mine["total_count"] + 5


def _client(project: Any, argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={"PATH": str(BIN) + ":/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cinderclient_pages_with_limit_marker_and_sort(project):
    endpoint = f"{project.server.url}/v3/{project.project}"
    base = [str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", endpoint,
            "--os_token", project.token, "--os-project-id", project.project]

    def names(*args: str) -> list[str]:
        out = _client(project, [*base, "list", *args])
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in out.splitlines()
                if line.startswith("|")]
        col = rows[0].index("Name")
        return [r[col] for r in rows[1:]]

    assert names("--sort", "name:asc", "--limit", "2") == ["n0", "n1"]
    assert names("--sort", "name:asc", "--limit", "2", "--marker", project.vols[1]["id"]) == ["n2", "n3"]
    assert names("--sort", "name:desc") == ["n4", "n3", "n2", "n1", "n0"]
    assert names("--name", "n2") == ["n2"]


def test_openstackclient_pages_with_limit_and_marker(project):
    """openstacksdk takes --limit as the page size: after a full page it asks the next one itself
    (marker: the page's last id), until a page is short."""
    endpoint = f"{project.server.url}/v3/{project.project}"
    base = [str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", endpoint,
            "--os-token", project.token, "volume", "list", "-f", "json"]
    newest_first = [v["Name"] for v in json.loads(_client(project, [*base, "--limit", "2"]))]
    assert newest_first == ["n4", "n3", "n2", "n1", "n0"]
    after = json.loads(_client(project, [*base, "--limit", "2", "--marker", project.vols[3]["id"]]))
    assert [v["Name"] for v in after] == ["n2", "n1", "n0"]


def test_links_name_the_host_the_client_asked(project):
    r = httpx.get(f"{project.server.url}/v3/{project.project}/volumes", params={"limit": "1"},
                  headers={"X-Auth-Token": project.token})
    assert r.json()["volumes_links"][0]["href"].startswith(f"{project.server.url}/v3/{project.project}/volumes?")
