"""python-openstackclient's newer volume calls that no other test ran, against the shared server:

- ``openstack --os-volume-api-version 3.14 volume group snapshot create/show/delete``;
- ``openstack --os-volume-api-version 3.3 volume message list/show/delete`` for Cinder's scheduling
  message (a type no backend can meet);
- ``openstack volume snapshot set --state`` (the admins' ``os-reset_status``);
- ``openstack --os-volume-api-version 3.44 volume attachment list/show/set/complete/delete`` of a
  multiattach volume's two attachments (``volume attachment create`` looks the server up in Nova,
  which these servers have not, so openstacksdk's ``create_attachment`` makes them).

What each command did is read back over HTTP."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

from api.support import unique

from .test_cli_clients import BIN, run

H = {"OpenStack-API-Version": "volume 3.44"}
#: The longest a group snapshot may take before the test gives up (a deadline, not a timed assertion).
DEADLINE_S = 300


def _osc(env: Any, token: str, version: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", token, "--os-volume-api-version", version, *args], check)


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_openstack_volume_group_snapshot_create_show_delete(env):
    gt = env.admin.ok("POST", "/group_types", json={"group_type": {"name": unique("osc-gs-gt")}}, headers=H)[
        "group_type"]["id"]
    gid = env.user.ok("POST", "/groups", json={"group": {"name": unique("osc-gs"), "group_type": gt,
                                                         "volume_types": ["__DEFAULT__"]}}, headers=H)["group"]["id"]
    vols = [env.user.create_volume(1, unique(f"osc-gs-{n}"))["id"] for n in "ab"]
    env.user.ok("PUT", f"/groups/{gid}", json={"group": {"add_volumes": ",".join(vols)}}, headers=H)
    made = _json(_osc(env, env.user_token, "3.14", "volume", "group", "snapshot", "create", "--name", "osc-gs",
                      "--description", "two members", gid, "-f", "json"))
    gsid = made["ID"]
    deadline = time.monotonic() + DEADLINE_S
    while (stored := env.user.ok("GET", f"/group_snapshots/{gsid}", headers=H)["group_snapshot"])["status"] == (
            "creating"):
        assert time.monotonic() < deadline, f"group snapshot {gsid} is still creating"
        time.sleep(0.2)
    assert (stored["name"], stored["description"], stored["group_id"], stored["status"]) == (
        "osc-gs", "two members", gid, "available")
    shown = _json(_osc(env, env.user_token, "3.14", "volume", "group", "snapshot", "show", gsid, "-f", "json"))
    assert (shown["ID"], shown["Name"], shown["Status"], shown["Group"], shown["Group Type"]) == (
        gsid, "osc-gs", "available", gid, gt)
    members = [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
               if s["group_snapshot_id"] == gsid]
    assert sorted(s["volume_id"] for s in members) == sorted(vols)
    _osc(env, env.user_token, "3.14", "volume", "group", "snapshot", "delete", gsid)
    assert env.user.request("GET", f"/group_snapshots/{gsid}", headers=H).status_code == 404
    assert not [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
                if s["group_snapshot_id"] == gsid]
    env.user.ok("POST", f"/groups/{gid}/action", json={"delete": {"delete-volumes": True}}, headers=H)
    env.admin.ok("DELETE", f"/group_types/{gt}", headers=H)


def test_openstack_volume_message_list_show_delete(env):
    tid = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("osc-nvh"), "extra_specs": {
        "storage_protocol": unique("proto")}}})["volume_type"]["id"]
    vid = env.user.ok("POST", "/volumes", json={"volume": {"size": 1, "volume_type": tid}})["volume"]["id"]
    try:
        below = _osc(env, env.user_token, "3.0", "volume", "message", "list", check=False)
        assert below.returncode != 0 and "3.3 or greater is required" in below.stderr, below.stderr
        listed = _json(_osc(env, env.user_token, "3.3", "volume", "message", "list", "-f", "json"))
        [row] = [m for m in listed if m["Resource UUID"] == vid]
        assert (row["Event ID"], row["Resource Type"], row["Message Level"]) == (
            "VOLUME_VOLUME_001_003", "VOLUME", "ERROR")
        assert row["User Message"] == "schedule allocate volume:Could not find any available weighted backend."
        shown = _json(_osc(env, env.user_token, "3.3", "volume", "message", "show", row["ID"], "-f", "json"))
        # openstacksdk's Message reads a show under "messages", Cinder's is "message": the show finds
        # the message (a 404 would fail) but prints only its id.
        assert (shown["ID"], shown["Event ID"], shown["Resource UUID"]) == (row["ID"], None, None)
        _osc(env, env.user_token, "3.3", "volume", "message", "delete", row["ID"])
        gone = env.user.request("GET", f"/messages/{row['ID']}", headers=H)
        assert gone.status_code == 404, gone.text
    finally:
        env.user.ok("DELETE", f"/volumes/{vid}")
        env.admin.ok("DELETE", f"/types/{tid}")


def test_openstack_volume_snapshot_set_state(env):
    vid = env.user.create_volume(1, unique("osc-snap-state"))["id"]
    sid = env.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})["snapshot"]["id"]
    refused = _osc(env, env.user_token, "3", "volume", "snapshot", "set", "--state", "error", sid, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr, refused.stderr
    assert env.user.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "available"
    _osc(env, env.admin_token, "3", "volume", "snapshot", "set", "--state", "error", sid)
    assert env.user.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "error"
    _osc(env, env.admin_token, "3", "volume", "snapshot", "set", "--state", "available", sid)
    shown = _json(_osc(env, env.user_token, "3", "volume", "snapshot", "show", sid, "-f", "json"))
    assert (shown["id"], shown["status"]) == (sid, "available")
    env.user.ok("DELETE", f"/volumes/{vid}", params={"cascade": "true"})


def test_openstack_volume_attachments_of_a_multiattach_volume(env):
    from api.test_openstacksdk import connect

    bs = connect(env.server, env.user_token).block_storage
    vtype = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("osc-multi"), "extra_specs": {"multiattach": "<is> True"}}})["volume_type"]
    vid = env.user.ok("POST", "/volumes", json={"volume": {"size": 1, "volume_type": vtype["id"]}})["volume"]["id"]
    servers = [str(uuid.uuid4()) for _ in "ab"]
    ids = []
    for server in servers:
        # Reserved (no connector) until ``set`` gives the connector and ``complete`` marks it attached;
        # the next server's reservation needs the volume in-use (Cinder refuses one while reserved).
        aid = bs.create_attachment(vid, instance=server).id
        [row] = _json(_osc(env, env.user_token, "3.44", "volume", "attachment", "list", "--volume-id", vid,
                           "--server-id", server, "-f", "json"))
        assert (row["ID"], row["Server ID"], row["Status"]) == (aid, server, "reserved")
        _osc(env, env.user_token, "3.44", "volume", "attachment", "set", "--host", "h1", "--initiator",
             "iqn.2026-12.test:h1", aid)
        stored = env.user.ok("GET", f"/attachments/{aid}", headers=H)["attachment"]
        assert stored["connection_info"]["data"]["export_name"] == vid, stored  # the volume's export
        _osc(env, env.user_token, "3.44", "volume", "attachment", "complete", aid)
        ids.append(aid)
    listed = _json(_osc(env, env.user_token, "3.44", "volume", "attachment", "list", "--volume-id", vid,
                        "-f", "json"))
    assert sorted((a["ID"], a["Server ID"], a["Status"]) for a in listed) == sorted(
        zip(ids, servers, ["attached", "attached"], strict=True))
    shown = _json(_osc(env, env.user_token, "3.44", "volume", "attachment", "show", ids[0], "-f", "json"))
    assert (shown["ID"], shown["Volume ID"], shown["Instance ID"], shown["Status"], shown["Attach Mode"]) == (
        ids[0], vid, servers[0], "attached", "rw")
    assert shown["Properties"]["data"]["export_name"] == vid
    volume = env.user.ok("GET", f"/volumes/{vid}")["volume"]
    assert (volume["status"], volume["multiattach"]) == ("in-use", True)
    assert sorted(a["attachment_id"] for a in volume["attachments"]) == sorted(ids)
    _osc(env, env.user_token, "3.44", "volume", "attachment", "delete", ids[0])
    volume = env.user.ok("GET", f"/volumes/{vid}")["volume"]
    assert (volume["status"], [a["attachment_id"] for a in volume["attachments"]]) == ("in-use", [ids[1]])
    _osc(env, env.user_token, "3.44", "volume", "attachment", "delete", ids[1])
    assert env.user.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    env.user.ok("DELETE", f"/volumes/{vid}")
    env.admin.ok("DELETE", f"/types/{vtype['id']}")
