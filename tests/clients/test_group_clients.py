"""The real clients' group calls against a real server: python-cinderclient's ``group-type-create``,
``group-type-key``, ``group-type-list``, ``group-create``, ``group-update --add-volumes/--remove-volumes``,
``group-show``, ``group-list``, ``group-delete --delete-volumes``; and python-openstackclient's
``openstack volume group type create``, ``volume group create``, ``volume group add volume``,
``volume group show``, ``volume group list`` and ``volume group delete --force``; and openstacksdk's
block-storage proxy (``create_group_type``, ``get_group_type``, ``group_types``, ``create_group``,
``get_group``, ``groups``, ``delete_group(delete_volumes=True)``, ``delete_group_type``)."""

from __future__ import annotations

import json
import subprocess

from api.support import unique

from .test_cli_clients import BIN, run, table
from .test_quota_clients import cinder


def _osc(env, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", token, "--os-volume-api-version", "3.13", *args], True)


def listed_ids(stdout: str) -> list[str]:
    """The ID column of cinderclient's list table (group-type-create prints one)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in stdout.splitlines()
            if line.startswith("|")]
    return [r[0] for r in rows[1:]]


def test_cinder_group_commands(env):
    v = ("--os-volume-api-version", "3.13")
    gt = {"ID": listed_ids(cinder(env, env.admin_token, *v, "group-type-create", unique("cli-gt")).stdout)[0]}
    cinder(env, env.admin_token, *v, "group-type-key", gt["ID"], "set", "consistent_group_snapshot_enabled=<is> True")
    assert gt["ID"] in cinder(env, env.user_token, *v, "group-type-list").stdout
    made = table(cinder(env, env.user_token, *v, "group-create", "--name", "cli-group", gt["ID"],
                        "__DEFAULT__").stdout)
    gid = made["id"]
    a = env.user.create_volume(1, unique("cli-grp-a"))["id"]
    b = env.user.create_volume(1, unique("cli-grp-b"))["id"]
    cinder(env, env.user_token, *v, "group-update", "--add-volumes", f"{a},{b}", gid)
    cinder(env, env.user_token, *v, "group-update", "--remove-volumes", b, "--name", "renamed", gid)
    shown = table(cinder(env, env.user_token, *v, "group-show", gid).stdout)
    assert (shown["name"], shown["status"], shown["group_type"]) == ("renamed", "available", gt["ID"])
    vol = env.user.ok("GET", f"/volumes/{a}", headers={"OpenStack-API-Version": "volume 3.13"})["volume"]
    assert vol["group_id"] == gid
    assert gid in cinder(env, env.user_token, *v, "group-list").stdout
    cinder(env, env.user_token, *v, "group-delete", "--delete-volumes", gid)
    assert env.user.request("GET", f"/volumes/{a}").status_code == 404
    assert env.user.request("GET", f"/groups/{gid}", headers={"OpenStack-API-Version": "volume 3.13"}
                            ).status_code == 404
    env.user.ok("DELETE", f"/volumes/{b}")
    cinder(env, env.admin_token, *v, "group-type-delete", gt["ID"])


def test_openstack_volume_group_commands(env):
    gt = json.loads(_osc(env, env.admin_token, "volume", "group", "type", "create", unique("osc-gt"),
                         "-f", "json").stdout)
    group = json.loads(_osc(env, env.user_token, "volume", "group", "create", "--volume-group-type", gt["ID"],
                            "--volume-type", "__DEFAULT__", "--name", "osc-group", "-f", "json").stdout)
    assert (group["Status"], group["Group Type"]) == ("available", gt["ID"])
    vid = env.user.create_volume(1, unique("osc-grp"))["id"]
    _osc(env, env.user_token, "volume", "group", "add", "volume", group["ID"], vid)
    shown = json.loads(_osc(env, env.user_token, "volume", "group", "show", group["ID"], "-f", "json").stdout)
    assert (shown["Name"], shown["Status"]) == ("osc-group", "available")
    listed = json.loads(_osc(env, env.user_token, "volume", "group", "list", "-f", "json").stdout)
    assert group["ID"] in {g["ID"] for g in listed}
    _osc(env, env.user_token, "volume", "group", "delete", "--force", group["ID"])
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
    _osc(env, env.admin_token, "volume", "group", "type", "delete", gt["ID"])


def test_openstacksdk_group_types_and_groups(env):
    from api.test_openstacksdk import connect

    admin = connect(env.server, env.admin_token).block_storage
    bs = connect(env.server, env.user_token).block_storage
    gt = admin.create_group_type(name=unique("sdk-gt"), group_specs={"consistent_group_snapshot_enabled": "<is> True"})
    assert admin.get_group_type(gt.id).group_specs == {"consistent_group_snapshot_enabled": "<is> True"}
    assert gt.id in {t.id for t in bs.group_types()}
    group = bs.create_group(name="sdk-group", group_type=gt.id, volume_types=["__DEFAULT__"])
    got = bs.get_group(group.id)
    assert (got.name, got.status, got.group_type) == ("sdk-group", "available", gt.id)
    assert group.id in {g.id for g in bs.groups()}
    vid = env.user.create_volume(1, unique("sdk-grp"))["id"]
    env.user.ok("PUT", f"/groups/{group.id}", json={"group": {"add_volumes": vid}},
                headers={"OpenStack-API-Version": "volume 3.13"})
    bs.delete_group(group, delete_volumes=True)
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
    admin.delete_group_type(gt)
