"""The volume and type endpoints as openstacksdk's block-storage proxy uses them.

The SDK is wired to the test server the way a deployment without Keystone would do it:
keystoneauth's ``token_endpoint.Token`` plugin (a fixed token and endpoint) in a session,
and ``block_storage_endpoint_override`` pointing at ``/v3/{project_id}``. keystoneauth then
discovers the API version and microversion range from the server's version document.
"""

from __future__ import annotations

import uuid

import openstack
import pytest
from keystoneauth1 import session, token_endpoint
from openstack import exceptions

from volclone.api.versions import MAX_VERSION

from .support import unique

# The SDK warns about its own future API changes on every call; they are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


def connect(server, token: str, project: str = "p1") -> openstack.connection.Connection:
    endpoint = f"{server.url}/v3/{project}"
    sess = session.Session(auth=token_endpoint.Token(endpoint, token))
    return openstack.connection.Connection(session=sess, block_storage_endpoint_override=endpoint,
                                           block_storage_api_version="3")


@pytest.fixture(scope="module")
def bs(env):
    """The block-storage proxy of a p1 user."""
    return connect(env.server, env.user_token).block_storage


@pytest.fixture(scope="module")
def admin_bs(env):
    return connect(env.server, env.admin_token).block_storage


def test_the_sdk_negotiates_the_newest_microversion(bs):
    data = bs.get_endpoint_data()
    assert (data.min_microversion, data.max_microversion) == ((3, 0), MAX_VERSION)
    assert bs.get_api_major_version() == (3, 0)


def test_volume_lifecycle(env, bs):
    name = unique("sdk")
    v = bs.create_volume(size=1, name=name, description="by the sdk", metadata={"a": "1"})
    try:
        v = bs.wait_for_status(v, status="available", failures=["error"], interval=0.1, wait=30)
        assert (v.name, v.description, v.size, v.status, v.metadata) == (name, "by the sdk", 1, "available",
                                                                          {"a": "1"})
        assert v.volume_type == "__DEFAULT__"
        assert env.server.active_file(v.id).exists()

        got = bs.get_volume(v.id)
        # Cinder gives the project (os-vol-tenant-attr:tenant_id) in shows, not in a create's answer.
        assert (v.project_id, got.project_id) == (None, "p1")
        assert (got.id, got.name, got.size, got.is_bootable, got.is_encrypted) == (v.id, name, 1, False, False)
        assert bs.find_volume(name).id == v.id
        assert bs.find_volume(v.id).id == v.id
        assert v.id in {x.id for x in bs.volumes()}
        assert v.id in {x.id for x in bs.volumes(details=False)}
        assert [x.id for x in bs.volumes(name=name)] == [v.id]

        updated = bs.update_volume(v.id, name=f"{name}-b", description="renamed")
        assert (updated.name, updated.description) == (f"{name}-b", "renamed")
        assert bs.get_volume(v.id).name == f"{name}-b"

        # the SDK caches metadata client-side, so pass ids and read back from the server
        bs.set_volume_metadata(v.id, b="2", c="3")
        assert bs.get_volume(v.id).metadata == {"a": "1", "b": "2", "c": "3"}
        bs.delete_volume_metadata(v.id, keys=["a", "c"])
        assert bs.get_volume(v.id).metadata == {"b": "2"}
        bs.delete_volume_metadata(v.id)
        assert bs.get_volume(v.id).metadata == {}
    finally:
        bs.delete_volume(v.id)
    bs.wait_for_delete(v, interval=0.1, wait=30)
    with pytest.raises(exceptions.NotFoundException):
        bs.find_volume(v.id, ignore_missing=False)


def test_listing_pages_through_every_volume(env, bs):
    vols = [bs.create_volume(size=1, name=unique("sdkpage")) for _ in range(3)]
    try:
        everything = [x["id"] for x in env.user.ok("GET", "/volumes")["volumes"]]
        # limit is the page size: the SDK follows the pages by marker until one comes back short
        assert [x.id for x in bs.volumes(limit=1)] == everything
        assert [x.id for x in bs.volumes(details=False, limit=2)] == everything
    finally:
        for v in vols:
            bs.delete_volume(v.id)


def test_errors_become_sdk_exceptions_with_the_servers_message(env, bs):
    missing = str(uuid.uuid4())
    with pytest.raises(exceptions.NotFoundException) as exc:
        bs.get_volume(missing)
    assert exc.value.status_code == 404
    assert f"volume {missing} could not be found" in str(exc.value.details)
    with pytest.raises(exceptions.NotFoundException):
        bs.find_volume(missing, ignore_missing=False)
    with pytest.raises(exceptions.BadRequestException) as exc:
        bs.create_volume(size=0, name=unique())
    assert "size" in str(exc.value.details)
    with pytest.raises(exceptions.ForbiddenException):
        bs.create_type(name=unique("sdktype"))
    forbidden = connect(env.server, env.user_token, project="p2").block_storage
    with pytest.raises(exceptions.ForbiddenException):
        list(forbidden.volumes())
    with pytest.raises(exceptions.HttpException) as exc:
        list(connect(env.server, "forged").block_storage.volumes())
    assert exc.value.status_code == 401


def test_types(env, bs, admin_bs, default_type):
    assert default_type["id"] in {t.id for t in bs.types()}
    name = unique("sdktype")
    t = admin_bs.create_type(name=name, description="sdk", extra_specs={"volume_backend_name": "local"})
    try:
        assert (t.name, t.description, t.is_public) == (name, "sdk", True)
        got = admin_bs.get_type(t.id)
        assert (got.id, got.name, got.extra_specs) == (t.id, name, {"volume_backend_name": "local"})
        # A user sees the type, not the operator's extra specs (Cinder's user-visible specs only).
        got = bs.get_type(t.id)
        assert (got.id, got.name, got.extra_specs) == (t.id, name, {})
        assert bs.find_type(name).id == t.id
        assert t.id in {x.id for x in bs.types()}

        admin_bs.update_type_extra_specs(t.id, tier="gold", iops="100", multiattach="<is> False")
        assert admin_bs.get_type(t.id).extra_specs == {"volume_backend_name": "local", "tier": "gold", "iops": "100",
                                                       "multiattach": "<is> False"}
        assert bs.get_type(t.id).extra_specs == {"multiattach": "<is> False"}
        admin_bs.delete_type_extra_specs(t.id, ["iops", "multiattach"])
        assert admin_bs.get_type(t.id).extra_specs == {"volume_backend_name": "local", "tier": "gold"}

        v = bs.create_volume(size=1, name=unique("sdk"), volume_type=name)
        try:
            assert bs.wait_for_status(v, status="available", interval=0.1, wait=30).volume_type == name
            with pytest.raises(exceptions.BadRequestException):
                admin_bs.delete_type(t.id)
        finally:
            bs.delete_volume(v.id)
    finally:
        admin_bs.delete_type(t.id)
    with pytest.raises(exceptions.NotFoundException):
        bs.find_type(name, ignore_missing=False)
    with pytest.raises(exceptions.NotFoundException):
        bs.get_type(t.id)
