"""openstacksdk's admin calls against a server of this module's own (a quota class, a disabled or
frozen service change what every project sees): ``get_quota_class_set``/``update_quota_class_set``,
``disable_service`` (with and without a reason), ``enable_service``, ``freeze_service``,
``thaw_service``, ``create/get/update/delete_type_encryption``; and a user's ``get_message`` /
``delete_message`` and ``set_snapshot_status`` (``os-update_snapshot_status``) after an admin's
``reset_snapshot_status``. Each call is read back over HTTP.

The sdk's service actions do not check the answer (``Service._action`` reads the body of any
status), so these tests read every change back from ``GET /os-services``."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from api.support import unique
from conftest import Env, _start

ME = socket.gethostname()
V3_3 = {"OpenStack-API-Version": "volume 3.3"}


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory, new_database: Any) -> Iterator[Env]:
    e = _start(tmp_path_factory.mktemp("volclone"), new_database=new_database)
    yield e
    e.server.close()


def _proxy(own: Env, token: str, **block_storage: str) -> Any:
    import openstack
    from keystoneauth1 import session, token_endpoint

    endpoint = f"{own.server.url}/v3/p1"
    options = {f"block_storage_{k}": v for k, v in block_storage.items()}
    return openstack.connection.Connection(
        session=session.Session(auth=token_endpoint.Token(endpoint, token)), block_storage_endpoint_override=endpoint,
        block_storage_api_version="3", **options).block_storage


@pytest.fixture(scope="module")
def sdk(own: Env) -> tuple[Any, Any]:
    """The block-storage proxies of a p1 user and of an admin."""
    return _proxy(own, own.user_token), _proxy(own, own.admin_token)


def _service(own: Env) -> dict[str, Any]:
    [s] = own.admin.ok("GET", "/os-services", params={"host": f"{ME}@local", "binary": "cinder-volume"})["services"]
    return s  # type: ignore[no-any-return]


def test_openstacksdk_quota_class_and_service_actions(own, sdk):
    _, admin = sdk
    assert admin.get_quota_class_set("default").volumes == -1  # the test servers' defaults (tests/conftest.py)
    updated = admin.update_quota_class_set("default", volumes=7, snapshots=5)
    assert (updated.volumes, updated.snapshots) == (7, 5)
    stored = own.admin.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]
    assert (stored["volumes"], stored["snapshots"], stored["gigabytes"]) == (7, 5, -1)
    assert own.admin.ok("GET", "/os-quota-sets/p1/defaults")["quota_set"]["volumes"] == 7
    admin.update_quota_class_set("default", volumes=-1, snapshots=-1)
    assert own.admin.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]["volumes"] == -1

    [svc] = [s for s in admin.services(binary="cinder-volume") if s.host == f"{ME}@local"]
    admin.disable_service(svc, reason="new disks")
    assert (_service(own)["status"], _service(own)["disabled_reason"]) == ("disabled", "new disks")
    admin.enable_service(svc)
    assert _service(own)["status"] == "enabled"
    admin.disable_service(svc)  # no reason: Cinder's plain ``disable`` (the enable cleared the last one)
    assert (_service(own)["status"], _service(own)["disabled_reason"]) == ("disabled", None)
    admin.enable_service(svc)
    assert _service(own)["status"] == "enabled"
    admin.freeze_service(svc)
    assert _service(own)["frozen"] is True
    admin.thaw_service(svc)
    s = _service(own)
    assert (s["frozen"], s["status"]) == (False, "enabled")


def test_openstacksdk_type_encryption(own, sdk):
    _, admin = sdk
    vtype = admin.create_type(name=unique("sdk-enc"))
    try:
        made = admin.create_type_encryption(vtype, provider="luks", cipher="aes-xts-plain64", key_size=256,
                                            control_location="front-end")
        assert made.encryption_id
        stored = own.admin.ok("GET", f"/types/{vtype.id}/encryption")
        assert (stored["provider"], stored["cipher"], stored["key_size"], stored["control_location"]) == (
            "luks", "aes-xts-plain64", 256, "front-end")
        got = admin.get_type_encryption(vtype)
        assert (got.encryption_id, got.provider, got.key_size) == (made.encryption_id, "luks", 256)
        admin.update_type_encryption(volume_type=vtype, key_size=512, control_location="back-end")
        stored = own.admin.ok("GET", f"/types/{vtype.id}/encryption")
        assert (stored["key_size"], stored["control_location"], stored["provider"]) == (512, "back-end", "luks")
        admin.delete_type_encryption(volume_type=vtype)
        assert own.admin.ok("GET", f"/types/{vtype.id}/encryption") == {}
    finally:
        admin.delete_type(vtype)


def test_openstacksdk_messages_and_snapshot_status(own, sdk):
    from openstack import exceptions

    bs, admin = sdk
    # A type no backend can meet makes an error volume and Cinder's scheduling message.
    vtype = own.admin.ok("POST", "/types", json={"volume_type": {"name": unique("sdk-nvh"), "extra_specs": {
        "storage_protocol": unique("proto")}}})["volume_type"]
    vid = own.user.ok("POST", "/volumes", json={"volume": {"size": 1, "volume_type": vtype["id"]}})["volume"]["id"]
    [listed] = [m for m in own.user.ok("GET", "/messages", headers=V3_3)["messages"] if m["resource_uuid"] == vid]
    # The sdk asks no microversion for messages, and Cinder serves them from 3.3 only: 404 at 3.0,
    # so a user names 3.3 as the connection's default (as clouds.yaml would).
    with pytest.raises(exceptions.NotFoundException, match="messages need microversion 3.3"):
        bs.get_message(listed["id"])
    msgs = _proxy(own, own.user_token, default_microversion="3.3")
    got = msgs.get_message(listed["id"])
    # The sdk's Message reads a show under "messages" (its resource_key), Cinder's is "message":
    # get_message finds the message (a 404 would raise) but fills in only its id.
    assert (got.id, got.resource_uuid, got.event_id) == (listed["id"], None, None)
    shown = own.user.ok("GET", f"/messages/{got.id}", headers=V3_3)["message"]
    assert (shown["resource_uuid"], shown["resource_type"], shown["event_id"], shown["message_level"]) == (
        vid, "VOLUME", "VOLUME_VOLUME_001_003", "ERROR")
    [m] = [m for m in msgs.messages() if m.resource_uuid == vid]  # the list has every field
    assert (m.id, m.event_id) == (got.id, "VOLUME_VOLUME_001_003")
    assert m.user_message == "schedule allocate volume:Could not find any available weighted backend."
    msgs.delete_message(got)
    assert own.user.request("GET", f"/messages/{got.id}", headers=V3_3).status_code == 404
    own.user.ok("DELETE", f"/volumes/{vid}")
    own.admin.ok("DELETE", f"/types/{vtype['id']}")

    # os-reset_status (an admin's) and os-update_snapshot_status (from creating, as a service reports).
    vid = own.user.create_volume(1, unique("sdk-uss"))["id"]
    sid = own.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})["snapshot"]["id"]
    admin.reset_snapshot_status(sid, "creating")
    assert own.user.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "creating"
    bs.set_snapshot_status(sid, "error", "80%")
    shown = own.user.ok("GET", f"/snapshots/{sid}")["snapshot"]
    assert (shown["status"], shown["os-extended-snapshot-attributes:progress"]) == ("error", "80%")
    with pytest.raises(exceptions.BadRequestException):  # error is not a status it may report from
        bs.set_snapshot_status(sid, "available")
    assert own.user.ok("GET", f"/snapshots/{sid}")["snapshot"]["status"] == "error"
    own.user.ok("DELETE", f"/volumes/{vid}", params={"cascade": "true"})
