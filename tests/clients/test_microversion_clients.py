"""The real clients on the calls microversions 3.28 to 3.71 brought, against a real server at the
microversion they negotiate (python-cinderclient asks for 3.71, which the server now serves):

``cinder list-filters``, ``service-set-log``/``service-get-log``, ``attachment-complete``,
``default-type-set``/``-list``/``-unset``, ``list --filters created_at=...``, and a project-less
endpoint (3.67); openstackclient's ``block storage resource filter list`` and ``log level``.
"""

from __future__ import annotations

import json
import uuid

from .test_action_clients import openstack
from .test_cli_clients import BIN, run, table
from .test_quota_clients import cinder


def rows(stdout: str) -> list[list[str]]:
    """The body rows of a cinderclient table (its header row left out)."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[1:]]


def test_cinder_list_filters(env):
    listed = {r[0]: r[1] for r in rows(cinder(env, env.user_token, "list-filters").stdout)}
    assert {"volume", "snapshot", "attachment", "volume_type"} <= set(listed)
    assert "name~" in listed["volume"] and "created_at" in listed["volume"]
    one = rows(cinder(env, env.user_token, "list-filters", "--resource", "snapshot").stdout)
    assert [r[0] for r in one] == ["snapshot"]


def test_openstack_resource_filter_list(env):
    listed = json.loads(openstack(env, env.user_token, "block", "storage", "resource", "filter", "list",
                                  "-f", "json").stdout)
    assert "volume" in {r["Resource"] for r in listed}


def test_cinder_service_set_and_get_log(env):
    cinder(env, env.admin_token, "service-set-log", "--prefix", "volclone.api", "DEBUG")
    got = cinder(env, env.admin_token, "service-get-log", "--prefix", "volclone.api").stdout
    assert "volclone.api" in got and "DEBUG" in got and "volclone-api" in got
    cinder(env, env.admin_token, "service-set-log", "--prefix", "volclone.api", "INFO")
    assert "DEBUG" not in cinder(env, env.admin_token, "service-get-log", "--prefix", "volclone.api").stdout
    denied = cinder(env, env.user_token, "service-set-log", "DEBUG", check=False)
    assert denied.returncode != 0


def test_openstack_log_level_list(env):
    listed = json.loads(openstack(env, env.admin_token, "block", "storage", "log", "level", "list",
                                  "--log-prefix", "volclone.api", "-f", "json").stdout)
    assert listed and {r["Binary"] for r in listed} == {"volclone-api"}


def test_cinder_attachment_complete(env):
    vid = env.user.create_volume(1, "cli-complete")["id"]
    made = table(cinder(env, env.user_token, "attachment-create", vid, str(uuid.uuid4())).stdout)
    assert made["status"] == "reserved"
    cinder(env, env.user_token, "attachment-complete", made["id"])
    assert env.user.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "in-use"
    cinder(env, env.user_token, "attachment-delete", made["id"])
    env.user.request("DELETE", f"/volumes/{vid}")


def test_cinder_default_types(env):
    name = f"cli-default-{uuid.uuid4().hex[:6]}"
    made = env.admin.ok("POST", "/types", json={"volume_type": {"name": name}})["volume_type"]
    project = f"p-{uuid.uuid4().hex[:6]}"
    try:
        cinder(env, env.admin_token, "default-type-set", name, project)
        listed = rows(cinder(env, env.admin_token, "default-type-list").stdout)
        assert [project, made["id"]] in [r[:2] for r in listed] or [made["id"], project] in [r[:2] for r in listed]
        one = cinder(env, env.admin_token, "default-type-list", "--project-id", project).stdout
        assert made["id"] in one
        cinder(env, env.admin_token, "default-type-unset", project)
        assert project not in cinder(env, env.admin_token, "default-type-list").stdout
        denied = cinder(env, env.user_token, "default-type-set", name, project, check=False)
        assert denied.returncode != 0
    finally:
        env.admin.request("DELETE", f"/types/{made['id']}")


def test_cinder_lists_by_creation_time(env):
    vid = env.user.create_volume(1, "cli-time")["id"]
    created = env.user.ok("GET", f"/volumes/{vid}")["volume"]["created_at"]
    after = cinder(env, env.user_token, "list", "--filters", f"created_at=gte:{created}").stdout
    before = cinder(env, env.user_token, "list", "--filters", "created_at=lt:2000-01-01T00:00:00").stdout
    assert vid in after and vid not in before
    env.user.request("DELETE", f"/volumes/{vid}")


def test_cinder_without_the_project_in_its_endpoint(env):
    """3.67: the endpoint ``/v3`` (no project): the token's project is acted on."""
    vid = env.user.create_volume(1, "cli-no-project")["id"]
    done = run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3",
                "--os_token", env.user_token, "--os-project-id", "p1", "list"])
    assert vid in done.stdout
    env.user.request("DELETE", f"/volumes/{vid}")


def test_cinder_metadata_unset_uses_the_etag(env):
    """From 3.15 cinderclient unsets a key by a GET, then a PUT of the rest with ``If-Match``."""
    vid = env.user.create_volume(1, "cli-etag")["id"]
    cinder(env, env.user_token, "metadata", vid, "set", "a=1", "b=2")
    done = cinder(env, env.user_token, "--debug", "metadata", vid, "unset", "a")
    assert "If-Match" in done.stderr
    assert env.user.ok("GET", f"/volumes/{vid}/metadata")["metadata"] == {"b": "2"}
    env.user.request("DELETE", f"/volumes/{vid}")
