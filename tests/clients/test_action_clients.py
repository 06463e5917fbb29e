"""The real clients' volume actions against a real server: ``cinder extend``, ``set-bootable``,
``readonly-mode-update``, ``reset-state`` and ``force-delete``, and ``openstack volume set``
(``--size``, ``--bootable``, ``--read-only``, ``--state``), and openstacksdk's block-storage proxy
(``extend_volume``, ``set_volume_bootable_status``, ``reserve_volume``, ... ``delete_volume(force=True)``).

Found: both clients send ``os-extend`` with an integer ``new_size``, ``os-set_bootable`` and
``os-update_readonly_flag`` with JSON booleans, ``os-force_delete`` with null;
``openstack volume set --size`` refuses by itself a size that is not bigger, before any request.
``cinder reset-state`` prints only "Unable to reset the state for the specified entity(s)." on a
403; openstackclient shows ``bootable`` as a JSON boolean (openstacksdk converts Cinder's string).
"""

from __future__ import annotations

import json

import pytest

from .test_cli_clients import BIN, run, table
from .test_quota_clients import cinder


def openstack(env, token: str, *args: str, check: bool = True):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", token, *args], check)


def show(env, vid: str) -> dict:
    return env.user.request("GET", f"/volumes/{vid}").json()["volume"]  # type: ignore[no-any-return]


def test_cinder_extend_bootable_readonly_reset_and_force_delete(env):
    vid = env.user.create_volume(1, "cli-actions")["id"]
    cinder(env, env.user_token, "extend", vid, "2")
    assert show(env, vid)["size"] == 2 and show(env, vid)["status"] == "available"
    refused = cinder(env, env.user_token, "extend", vid, "2", check=False)
    assert refused.returncode != 0 and "must be greater than current size" in refused.stderr
    cinder(env, env.user_token, "set-bootable", vid, "true")
    assert table(cinder(env, env.user_token, "show", vid).stdout)["bootable"] == "true"
    cinder(env, env.user_token, "readonly-mode-update", vid, "true")
    assert show(env, vid)["metadata"] == {"readonly": "True"}
    denied = cinder(env, env.user_token, "reset-state", "--state", "error", vid, check=False)
    # (cinderclient hides the server's message here: "Unable to reset the state ...")
    assert denied.returncode != 0 and show(env, vid)["status"] == "available"
    cinder(env, env.admin_token, "reset-state", "--state", "error", "--reset-migration-status", vid)
    assert show(env, vid)["status"] == "error"
    cinder(env, env.admin_token, "reset-state", "--state", "extending", vid)
    cinder(env, env.admin_token, "force-delete", vid)
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404


def test_openstack_volume_set_size_bootable_read_only_and_state(env):
    vid = env.user.create_volume(1, "osc-actions")["id"]
    openstack(env, env.user_token, "volume", "set", "--size", "3", vid)
    openstack(env, env.user_token, "volume", "set", "--bootable", "--read-only", vid)
    shown = json.loads(openstack(env, env.user_token, "volume", "show", vid, "-f", "json").stdout)
    assert (shown["size"], shown["bootable"], shown["status"]) == (3, True, "available")  # openstacksdk's bool
    assert show(env, vid)["metadata"] == {"readonly": "True"}
    openstack(env, env.user_token, "volume", "set", "--non-bootable", "--read-write", vid)
    assert show(env, vid)["bootable"] == "false" and show(env, vid)["metadata"] == {"readonly": "False"}
    openstack(env, env.admin_token, "volume", "set", "--state", "error", vid)
    assert show(env, vid)["status"] == "error"
    env.user.request("DELETE", f"/volumes/{vid}")


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")  # the SDK's own
def test_openstacksdk_drives_every_new_action(env):
    from api.test_openstacksdk import connect

    bs, admin = connect(env.server, env.user_token).block_storage, connect(env.server, env.admin_token).block_storage
    vid = env.user.create_volume(1, "sdk-actions")["id"]
    vol = bs.get_volume(vid)
    bs.extend_volume(vol, 2)
    assert bs.get_volume(vid).size == 2
    bs.set_volume_bootable_status(vol, True)
    bs.set_volume_readonly(vol, True)
    got = bs.get_volume(vid)
    assert got.is_bootable is True and got.metadata == {"readonly": "True"}
    bs.set_volume_readonly(vol, False)
    bs.reserve_volume(vol)
    assert bs.get_volume(vid).status == "attaching"
    bs.unreserve_volume(vol)
    assert bs.get_volume(vid).status == "available"
    env.user.ok("POST", f"/volumes/{vid}/action", json={"os-attach": {"mountpoint": "/dev/vdb"}})
    assert bs.get_volume(vid).status == "in-use"
    bs.begin_volume_detaching(vol)
    assert bs.get_volume(vid).status == "detaching"
    bs.abort_volume_detaching(vol)
    assert bs.get_volume(vid).status == "in-use"
    admin.reset_volume_status(vol, status="error", attach_status="detached", migration_status="none")
    got = bs.get_volume(vid)
    assert (got.status, got.attachments) == ("error", [])
    admin.delete_volume(vol, force=True)
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
