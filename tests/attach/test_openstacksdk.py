"""Attachments as openstacksdk's block-storage proxy drives them (it negotiates microversion 3.27)."""

from __future__ import annotations

import uuid

import pytest
from openstack import exceptions

from api.support import unique
from api.test_openstacksdk import connect

from .support import MV, opened, unreachable

pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


@pytest.fixture(scope="module")
def bs(env):
    return connect(env.server, env.user_token).block_storage


def test_create_complete_list_delete(env, bs):
    v = bs.create_volume(size=1, name=unique("sdk"))
    bs.wait_for_status(v, "available", wait=30)
    server = str(uuid.uuid4())
    a = bs.create_attachment(v.id, connector={"host": "sdk-host"}, instance=server, attach_mode="rw")
    assert a.status == "attaching" and a.volume_id == v.id and a.instance == server
    uri = a.connection_info["data"]["uri"]
    with opened(uri) as h:
        assert not h.is_read_only()

    bs.complete_attachment(a)  # POST /attachments/{id}/action {"os-complete": ...}
    assert bs.get_attachment(a.id).status == "attached"
    assert bs.get_volume(v.id).status == "in-use"
    assert a.id in [x.id for x in bs.attachments(volume_id=v.id)]
    assert [x.id for x in bs.attachments(details=False, instance_id=server)] == [a.id]

    bs.delete_attachment(a, ignore_missing=False)
    assert bs.get_volume(v.id).status == "available"
    assert unreachable(uri)
    with pytest.raises(exceptions.NotFoundException):
        bs.get_attachment(a.id)
    bs.delete_volume(v)


def test_legacy_initialize_and_terminate(env, bs):
    v = bs.create_volume(size=1, name=unique("sdk"))
    bs.wait_for_status(v, "available", wait=30)
    connector = {"host": "sdk-legacy"}
    info = bs.init_volume_attachment(v, connector)
    assert info["driver_volume_type"] == "nbd"
    assert bs.get_volume(v.id).status == "attaching"
    bs.terminate_volume_attachment(v, connector)
    assert bs.get_volume(v.id).status == "available"
    assert unreachable(info["data"]["uri"])
    bs.delete_volume(v)


def test_os_complete_needs_its_key(env):
    v = env.user.create_volume(1, name=unique("sdk"))
    a = env.user.ok("POST", "/attachments", json={"attachment": {"volume_uuid": v["id"], "instance_uuid": "i"}},
                    headers=MV)["attachment"]
    for body in ({}, {"os-finish": 1}):
        r = env.user.request("POST", f"/attachments/{a['id']}/action", json=body, headers=MV)
        assert r.status_code == 400, r.text
    assert env.user.request("POST", f"/attachments/{a['id']}/action", json={"os-complete": a["id"]},
                            headers=MV).status_code == 204
    assert env.user.ok("GET", f"/volumes/{v['id']}")["volume"]["status"] == "in-use"
    env.user.ok("DELETE", f"/attachments/{a['id']}", headers=MV)
    env.user.ok("DELETE", f"/volumes/{v['id']}")
