"""The real clients' create-from-src (3.14) against a real server (the local pool):
``cinder --os-volume-api-version 3.14 group-create-from-src --source-group`` / ``--group-snapshot``
and ``openstack --os-volume-api-version 3.14 volume group create --source-group`` /
``--group-snapshot``; each new group ends ``available`` with one volume per source member."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from api.support import unique

from .test_cli_clients import BIN, run, table
from .test_group_clients import listed_ids
from .test_quota_clients import cinder

V = ("--os-volume-api-version", "3.14")
H = {"OpenStack-API-Version": "volume 3.25"}
#: The longest a group's flow may take before the test gives up (a deadline, not a timed assertion).
DEADLINE_S = 300


def _osc(env: Any, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", token, "--os-volume-api-version", "3.14", *args], True)


def _made(env: Any, group_id: str) -> tuple[dict[str, Any], list[str]]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        group = env.user.ok("GET", f"/groups/{group_id}?list_volume=true", headers=H)["group"]
        if group["status"] != "creating":
            return group, group.get("volumes") or []
        assert time.monotonic() < deadline, f"group {group_id} is still creating"
        time.sleep(0.2)


def _source(env: Any, tag: str) -> tuple[str, str, list[str], str]:
    gt = listed_ids(cinder(env, env.admin_token, *V, "group-type-create", unique(f"{tag}-gt")).stdout)[0]
    gid = table(cinder(env, env.user_token, *V, "group-create", "--name", unique(tag), gt, "__DEFAULT__").stdout)["id"]
    vols = [env.user.create_volume(1, unique(f"{tag}-{n}"))["id"] for n in "ab"]
    cinder(env, env.user_token, *V, "group-update", "--add-volumes", ",".join(vols), gid)
    gs = table(cinder(env, env.user_token, *V, "group-snapshot-create", "--name", unique(tag), gid).stdout)["id"]
    return gt, gid, vols, gs


def _cleanup(env: Any, gt: str, gid: str, gs: str, made: list[str]) -> None:
    for g in made:
        cinder(env, env.user_token, *V, "group-delete", "--delete-volumes", g)
    cinder(env, env.user_token, *V, "group-snapshot-delete", gs)
    cinder(env, env.user_token, *V, "group-delete", "--delete-volumes", gid)
    cinder(env, env.admin_token, *V, "group-type-delete", gt)


def test_cinder_group_create_from_src(env):
    gt, gid, vols, gs = _source(env, "cli-fs")
    from_group = table(cinder(env, env.user_token, *V, "group-create-from-src", "--source-group", gid,
                              "--name", "cli-from-group").stdout)
    from_gs = table(cinder(env, env.user_token, *V, "group-create-from-src", "--group-snapshot", gs,
                           "--name", "cli-from-gs").stdout)
    for made, field, source in ((from_group, "source_group_id", gid), (from_gs, "group_snapshot_id", gs)):
        group, members = _made(env, made["id"])
        assert (group["status"], group[field], group["group_type"]) == ("available", source, gt)
        assert len(members) == 2 and not set(members) & set(vols)
    shown = table(cinder(env, env.user_token, *V, "group-show", from_gs["id"]).stdout)
    assert (shown["name"], shown["group_snapshot_id"]) == ("cli-from-gs", gs)
    _cleanup(env, gt, gid, gs, [from_group["id"], from_gs["id"]])


def test_openstack_volume_group_create_from_src(env):
    gt, gid, vols, gs = _source(env, "osc-fs")
    made = []
    for option, source, field in (("--source-group", gid, "source_group_id"), ("--group-snapshot", gs,
                                                                             "group_snapshot_id")):
        out = json.loads(_osc(env, env.user_token, "volume", "group", "create", option, source, "--name",
                              unique("osc-from"), "-f", "json").stdout)
        group, members = _made(env, out["ID"])
        assert (group["status"], group[field]) == ("available", source)
        assert len(members) == 2 and not set(members) & set(vols)
        made.append(out["ID"])
    _cleanup(env, gt, gid, gs, made)
