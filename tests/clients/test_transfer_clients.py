"""The real clients' transfer and message calls against a real server, with two projects (p1
offers, p2 accepts; p2's token is made as tests/api's ``other`` makes it): ``cinder
transfer-create`` / ``transfer-list`` / ``transfer-show`` / ``transfer-accept`` /
``transfer-delete``, ``openstack volume transfer request create/list/accept/delete``,
openstacksdk's ``create_transfer``/``accept_transfer``/``transfers``/``delete_transfer``, and
``cinder message-list`` / openstacksdk's ``messages`` for a clone that failed (a failpoint)."""

from __future__ import annotations

import json
import time

import pytest

from api.support import unique
from conftest import make_token

from .test_cli_clients import BIN, run, table

V3_3 = {"OpenStack-API-Version": "volume 3.3"}


def cinder(env, token: str, project: str, *args: str, check: bool = True):
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint",
                f"{env.server.url}/v3/{project}", "--os_token", token, "--os-project-id", project, *args], check)


def openstack(env, token: str, project: str, *args: str, check: bool = True):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint",
                f"{env.server.url}/v3/{project}", "--os-token", token, *args], check)


@pytest.fixture(scope="module")
def p2_token(env) -> str:
    return make_token(env.server.data_dir, "p2")


def test_cinder_transfer_create_list_accept(env, p2_token):
    vid = env.user.create_volume(1, unique("cli-xfer"))["id"]
    made = table(cinder(env, env.user_token, "p1", "transfer-create", "--name", "to-p2", vid).stdout)
    assert (made["volume_id"], made["name"]) == (vid, "to-p2") and len(made["auth_key"]) == 16
    assert env.user.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "awaiting-transfer"
    assert made["id"] in cinder(env, env.user_token, "p1", "transfer-list").stdout
    shown = table(cinder(env, env.user_token, "p1", "transfer-show", made["id"]).stdout)
    assert shown["volume_id"] == vid and "auth_key" not in shown
    wrong = cinder(env, p2_token, "p2", "transfer-accept", made["id"], "0123456789abcdef", check=False)
    assert wrong.returncode != 0 and "Invalid auth key" in wrong.stderr
    accepted = table(cinder(env, p2_token, "p2", "transfer-accept", made["id"], made["auth_key"]).stdout)
    assert accepted["volume_id"] == vid
    p2 = env.server.client(p2_token, "p2")
    assert p2.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
    p2.ok("DELETE", f"/volumes/{vid}")


def test_cinder_transfer_delete(env):
    vid = env.user.create_volume(1, unique("cli-xfer-del"))["id"]
    made = table(cinder(env, env.user_token, "p1", "transfer-create", vid).stdout)
    cinder(env, env.user_token, "p1", "transfer-delete", made["id"])
    assert env.user.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    env.user.ok("DELETE", f"/volumes/{vid}")


def test_openstack_volume_transfer_request_create_accept(env, p2_token):
    vid = env.user.create_volume(1, unique("osc-xfer"))["id"]
    made = json.loads(openstack(env, env.user_token, "p1", "volume", "transfer", "request", "create", "--name",
                                "osc-to-p2", vid, "-f", "json").stdout)
    assert made["volume_id"] == vid and len(made["auth_key"]) == 16
    listed = json.loads(openstack(env, env.user_token, "p1", "volume", "transfer", "request", "list",
                                  "-f", "json").stdout)
    assert made["id"] in {t["ID"] for t in listed}
    accepted = json.loads(openstack(env, p2_token, "p2", "volume", "transfer", "request", "accept", "--auth-key",
                                    made["auth_key"], made["id"], "-f", "json").stdout)
    assert accepted["volume_id"] == vid
    p2 = env.server.client(p2_token, "p2")
    assert p2.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "available"
    p2.ok("DELETE", f"/volumes/{vid}")


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")  # the SDK's own
def test_openstacksdk_create_accept_list_delete_transfer(env, p2_token):
    from api.test_openstacksdk import connect

    bs = connect(env.server, env.user_token).block_storage
    vid = env.user.create_volume(1, unique("sdk-xfer"))["id"]
    t = bs.create_transfer(volume_id=vid, name="sdk-to-p2")
    assert t.auth_key and t.volume_id == vid
    assert t.id in {x.id for x in bs.transfers()}
    assert bs.get_transfer(t.id).name == "sdk-to-p2"
    gone = bs.create_transfer(volume_id=env.user.create_volume(1, unique("sdk-xfer2"))["id"])
    bs.delete_transfer(gone)
    assert gone.id not in {x.id for x in bs.transfers()}
    other = connect(env.server, p2_token, "p2").block_storage
    other.accept_transfer(t.id, t.auth_key)
    assert other.get_volume(vid).status == "available"
    other.delete_volume(vid)
    env.user.ok("DELETE", f"/volumes/{gone.volume_id}")


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_a_failed_clone_is_a_message_for_cinder_and_the_sdk(make_env):
    import openstack
    from keystoneauth1 import session, token_endpoint

    own = make_env(VOLCLONE_FAILPOINTS="create_group_clone")
    vid = own.user.create_volume(1, unique("msg-src"))["id"]
    task = own.user.clone([vid])
    assert own.user.wait(task)["flow_details"]["cloneFlow"] == "REVERTED"
    # The message is written once the flow's thread ends, just after get_progress reads REVERTED.
    deadline = time.monotonic() + 30
    while not own.user.ok("GET", "/messages", headers=V3_3)["messages"]:
        assert time.monotonic() < deadline, "no message for the failed clone"
        time.sleep(0.05)
    listed = cinder(own, own.user_token, "p1", "--os-volume-api-version", "3.3", "message-list").stdout
    assert "VOLUME_CLONE_TASK_901_001" in listed and task in listed
    # The SDK asks no microversion for messages (Cinder, too, serves them from 3.3 only): the
    # connection's default microversion says it, as a Cinder user's clouds.yaml would.
    endpoint = f"{own.server.url}/v3/p1"
    bs = openstack.connection.Connection(
        session=session.Session(auth=token_endpoint.Token(endpoint, own.user_token)),
        block_storage_endpoint_override=endpoint, block_storage_api_version="3",
        block_storage_default_microversion="3.3").block_storage
    [m] = list(bs.messages())
    assert (m.event_id, m.resource_uuid, m.message_level) == ("VOLUME_CLONE_TASK_901_001", task, "ERROR")
    assert m.user_message == "clone volumes:An unknown error occurred."
    bs.delete_message(m.id)
    assert list(bs.messages()) == []
