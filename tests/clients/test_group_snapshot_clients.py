"""The clients' group snapshot calls against a real server (the local pool):
``cinder --os-volume-api-version 3.14 group-snapshot-create``, ``group-snapshot-list``,
``group-snapshot-show`` and ``group-snapshot-delete``; the members appear in /snapshots with
``group_snapshot_id``. 3.29's lists: ``cinder group-snapshot-list --status/--group-id/--filters``
(python-cinderclient has no ``--sort`` for them), openstacksdk's ``group_snapshots(sort=...,
limit=...)`` (which follows ``group_snapshots_links``) and ``openstack volume group snapshot list
--all-projects``."""

from __future__ import annotations

import json

from api.support import unique

from .test_cli_clients import BIN, run, table
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


def _osc(env, token: str, version: str, *args: str):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", token, "--os-volume-api-version", version, *args], True)


def test_group_snapshot_lists_filter_sort_and_page_with_the_clients(env):
    from api.test_openstacksdk import connect

    gt = listed_ids(cinder(env, env.admin_token, *V, "group-type-create", unique("cli-gsl")).stdout)[0]
    gid = table(cinder(env, env.user_token, *V, "group-create", "--name", "cli-gsl", gt, "__DEFAULT__").stdout)["id"]
    vol = env.user.create_volume(1, unique("cli-gsl"))["id"]
    cinder(env, env.user_token, *V, "group-update", "--add-volumes", vol, gid)
    tag = unique("gsl")
    names = [f"{tag}-b", f"{tag}-Night-a", f"{tag}-c"]
    ids = {table(cinder(env, env.user_token, *V, "group-snapshot-create", "--name", n, gid).stdout)["id"]: n
           for n in names}
    v34 = ("--os-volume-api-version", "3.34")
    # cinderclient: a user's --status and --group-id (Cinder's default resource filters) ...
    listed = listed_ids(cinder(env, env.user_token, *v34, "group-snapshot-list", "--status", "available",
                               "--group-id", gid).stdout)
    assert sorted(listed) == sorted(ids)
    assert listed_ids(cinder(env, env.user_token, *v34, "group-snapshot-list", "--status", "error",
                             "--group-id", gid).stdout) == []
    # ... a user's name~ is refused (400), an admin's matches a part of the name, in any case.
    refused = cinder(env, env.user_token, *v34, "group-snapshot-list", "--filters", f"name~={tag}", check=False)
    assert refused.returncode != 0 and "Invalid filters name~" in refused.stderr
    night = listed_ids(cinder(env, env.admin_token, *v34, "group-snapshot-list", "--all-tenants",
                              "--filters", f"name~={tag}-NIGHT").stdout)
    assert [ids[i] for i in night] == [f"{tag}-Night-a"]
    # openstacksdk: sorted, one a page; the pages follow group_snapshots_links to the end.
    bs = connect(env.server, env.user_token).block_storage
    paged = [g for g in bs.group_snapshots(sort="name:asc", limit=1) if g.id in ids]
    assert [g.name for g in paged] == sorted(names)
    assert [g.group_id for g in paged] == [gid] * 3
    page = env.user.ok("GET", "/group_snapshots?limit=1&sort=name:desc",
                       headers={"OpenStack-API-Version": "volume 3.29"})
    assert page["group_snapshots_links"][0]["href"].startswith(f"{env.server.url}/v3/p1/group_snapshots?")
    # openstackclient: an admin's --all-projects (from 3.29; below, Cinder ignores it).
    every = json.loads(_osc(env, env.admin_token, "3.29", "volume", "group", "snapshot", "list", "--all-projects",
                            "-f", "json").stdout)
    assert set(ids) <= {g["ID"] for g in every}
    mine = json.loads(_osc(env, env.user_token, "3.29", "volume", "group", "snapshot", "list", "-f", "json").stdout)
    assert {g["Name"] for g in mine if g["ID"] in ids} == set(names)
    for gsid in ids:
        cinder(env, env.user_token, *V, "group-snapshot-delete", gsid)
    cinder(env, env.user_token, *V, "group-delete", "--delete-volumes", gid)
    cinder(env, env.admin_token, *V, "group-type-delete", gt)
