"""python-cinderclient's group snapshot commands against a real server (the local pool):
``cinder --os-volume-api-version 3.14 group-snapshot-create``, ``group-snapshot-list``,
``group-snapshot-show`` and ``group-snapshot-delete``; the members appear in /snapshots with
``group_snapshot_id``."""

from __future__ import annotations

from api.support import unique

from .test_cli_clients import table
from .test_group_clients import listed_ids
from .test_quota_clients import cinder

V = ("--os-volume-api-version", "3.14")
H = {"OpenStack-API-Version": "volume 3.14"}


def test_cinder_group_snapshot_commands(env):
    gt = listed_ids(cinder(env, env.admin_token, *V, "group-type-create", unique("cli-gst")).stdout)[0]
    gid = table(cinder(env, env.user_token, *V, "group-create", "--name", "cli-gs-group", gt, "__DEFAULT__").stdout)[
        "id"]
    vols = [env.user.create_volume(1, unique(f"cli-gs-{n}"))["id"] for n in "ab"]
    cinder(env, env.user_token, *V, "group-update", "--add-volumes", ",".join(vols), gid)
    made = table(cinder(env, env.user_token, *V, "group-snapshot-create", "--name", "cli-gs", gid).stdout)
    gsid = made["id"]
    assert gsid in cinder(env, env.user_token, *V, "group-snapshot-list").stdout
    shown = table(cinder(env, env.user_token, *V, "group-snapshot-show", gsid).stdout)
    assert (shown["name"], shown["status"], shown["group_id"], shown["group_type_id"]) == (
        "cli-gs", "available", gid, gt)
    members = [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
               if s["group_snapshot_id"] == gsid]
    assert sorted(s["volume_id"] for s in members) == sorted(vols)
    cinder(env, env.user_token, *V, "group-snapshot-delete", gsid)
    assert env.user.request("GET", f"/group_snapshots/{gsid}", headers=H).status_code == 404
    assert not [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
                if s["group_snapshot_id"] == gsid]
    cinder(env, env.user_token, *V, "group-delete", "--delete-volumes", gid)
    cinder(env, env.admin_token, *V, "group-type-delete", gt)
