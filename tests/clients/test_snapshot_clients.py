"""The real clients' snapshot calls against a real server: ``cinder snapshot-create`` (``--force``),
``snapshot-list``, ``snapshot-show``, ``snapshot-rename``, ``snapshot-metadata``,
``snapshot-reset-state``, ``snapshot-delete``, ``cinder create --snapshot-id`` and
``cinder delete --cascade``; and openstacksdk's block-storage proxy (``create_snapshot``,
``snapshots``, ``get_snapshot``, ``delete_snapshot``, ``create_volume(snapshot_id=...)``)."""

from __future__ import annotations

import pytest

from api.support import unique

from .test_cli_clients import table
from .test_quota_clients import cinder


def test_cinder_snapshot_commands(env):
    vid = env.user.create_volume(1, unique("cli-snap"))["id"]
    created = table(cinder(env, env.user_token, "snapshot-create", "--name", "cli-snap", vid).stdout)
    sid = created["id"]
    assert (created["status"], created["volume_id"], created["size"]) == ("available", vid, "1")
    listed = cinder(env, env.user_token, "snapshot-list").stdout
    assert sid in listed and "cli-snap" in listed
    shown = table(cinder(env, env.user_token, "snapshot-show", sid).stdout)
    assert shown["os-extended-snapshot-attributes:progress"] == "100%" and shown["name"] == "cli-snap"
    cinder(env, env.user_token, "snapshot-rename", sid, "renamed")
    cinder(env, env.user_token, "snapshot-metadata", sid, "set", "k=v")
    shown = table(cinder(env, env.user_token, "snapshot-show", sid).stdout)
    assert shown["name"] == "renamed" and "'k': 'v'" in shown["metadata"]
    made = table(cinder(env, env.user_token, "create", "--snapshot-id", sid, "--name", unique("from-snap")).stdout)
    assert made["snapshot_id"] == sid and made["size"] == "1"
    refused = cinder(env, env.user_token, "delete", vid, check=False)
    assert "snapshot" in (refused.stdout + refused.stderr)
    cinder(env, env.admin_token, "snapshot-reset-state", "--state", "error", sid)
    assert table(cinder(env, env.user_token, "snapshot-show", sid).stdout)["status"] == "error"
    cinder(env, env.user_token, "delete", "--cascade", vid)
    assert env.user.request("GET", f"/snapshots/{sid}").status_code == 404
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
    env.user.ok("DELETE", f"/volumes/{made['id']}")


def test_cinder_snapshot_create_of_an_attached_volume_needs_force_below_3_66(env):
    from attach.support import attach, detach

    vid = env.user.create_volume(1, unique("cli-force"))["id"]
    a = attach(env.user, vid)
    env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}},
                headers={"OpenStack-API-Version": "volume 3.27"})
    old = ("--os-volume-api-version", "3.65")
    refused = cinder(env, env.user_token, *old, "snapshot-create", vid, check=False)
    assert refused.returncode != 0 and "force" in refused.stderr
    sids = [table(cinder(env, env.user_token, *old, "snapshot-create", "--force", "True", vid).stdout)["id"]]
    # At its default (3.71, past 3.66) cinderclient snapshots an in-use volume without --force.
    sids.append(table(cinder(env, env.user_token, "snapshot-create", vid).stdout)["id"])
    for sid in sids:
        cinder(env, env.user_token, "snapshot-delete", sid)
    detach(env.user, a["id"])
    env.user.ok("DELETE", f"/volumes/{vid}")


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")  # the SDK's own
def test_openstacksdk_create_list_show_delete_snapshot(env):
    from api.test_openstacksdk import connect

    bs = connect(env.server, env.user_token).block_storage
    vid = env.user.create_volume(1, unique("sdk-snap"))["id"]
    snap = bs.create_snapshot(volume_id=vid, name="sdk-snap", description="d")
    snap = bs.wait_for_status(snap, "available", wait=30)
    assert (snap.volume_id, snap.size, snap.name) == (vid, 1, "sdk-snap")
    assert snap.id in {s.id for s in bs.snapshots()}
    detailed = {s.id: s for s in bs.snapshots(details=True, volume_id=vid)}
    assert detailed[snap.id].project_id == "p1" and detailed[snap.id].progress == "100%"
    got = bs.get_snapshot(snap.id)
    assert got.description == "d" and got.status == "available"
    made = bs.create_volume(snapshot_id=snap.id, name=unique("sdk-from-snap"))
    assert bs.get_volume(made.id).snapshot_id == snap.id
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, wait=30)
    assert env.user.request("GET", f"/snapshots/{snap.id}").status_code == 404
    for v in (vid, made.id):
        bs.delete_volume(v)
