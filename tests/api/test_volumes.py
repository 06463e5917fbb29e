"""Volumes: create, list, list detail, show, update, metadata, delete."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from .support import assert_fault, creates_nothing, set_status, unique

GIB = 1024 ** 3


@pytest.fixture
def vol(env):
    """A fresh 1 GiB volume of project p1, deleted afterwards if the test left it."""
    v = env.user.create_volume(1, unique(), description="fixture volume", metadata={"k1": "v1"})
    yield v
    if env.user.request("GET", f"/volumes/{v['id']}").status_code == 200:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


def image_info(path) -> dict:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


# -- create -------------------------------------------------------------------
def test_create_returns_the_volume_and_makes_a_thin_image(env, default_type):
    before = env.server.pool_files()
    name = unique()
    r = env.user.request("POST", "/volumes", json={"volume": {
        "size": 2, "name": name, "description": "two gib", "metadata": {"purpose": "test"}}})
    assert r.status_code == 202, r.text
    v = r.json()["volume"]
    try:
        uuid.UUID(v["id"])
        assert (v["name"], v["description"], v["size"], v["metadata"]) == (name, "two gib", 2, {"purpose": "test"})
        assert v["status"] == "available"
        assert v["volume_type"] == default_type["name"] == "__DEFAULT__"
        assert "volume_type_id" not in v, "from microversion 3.63 only"
        assert "os-vol-tenant-attr:tenant_id" not in v, "Cinder shows it in shows and detailed lists only"
        assert env.user.ok("GET", f"/volumes/{v['id']}")["volume"]["os-vol-tenant-attr:tenant_id"] == "p1"
        assert v["attachments"] == [] and v["bootable"] == "false" and v["encrypted"] is False
        assert v["source_volid"] is None
        assert v["created_at"] and v["updated_at"]
        links = {link["rel"]: link["href"] for link in v["links"]}
        assert links["self"] == f"{env.server.url}/v3/p1/volumes/{v['id']}"
        # a real image in the pool: one new file, the volume's size, thin
        path = env.server.active_file(v["id"])
        assert env.server.pool_files() - before == {path.name}
        info = image_info(path)
        assert info["format"] == "qcow2"
        assert info["virtual-size"] == 2 * GIB
        assert path.stat().st_blocks * 512 < 16 * 1024 * 1024
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


def test_create_with_type_by_name_or_id(env):
    name = unique("type")
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": name}})["volume_type"]
    try:
        by_name = env.user.create_volume(1, unique(), volume_type=name)
        by_id = env.user.create_volume(1, unique(), volume_type=t["id"])
        for v in (by_name, by_id):
            assert v["volume_type"] == name
            env.user.ok("DELETE", f"/volumes/{v['id']}")
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_create_without_name(env):
    v = env.user.create_volume(1)
    try:
        assert v["name"] is None and v["description"] is None and v["metadata"] == {}
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("body, says", [
    ({"volume": {}}, "size"),
    ({"volume": {"size": 0}}, "size"),
    ({"volume": {"size": -1}}, "size"),
    ({"volume": {"size": 1.5}}, "size"),
    ({"volume": {"size": "one"}}, "size"),
    ({"volume": {"size": True}}, "size"),
    ({"volume": {"size": None}}, "size"),
    ({"volume": {"size": 2 ** 31}}, "size"),
    ({"volume": {"size": 2 ** 63}}, "size"),
    ({"volume": {"size": 1, "name": 5}}, "name"),
    ({"volume": {"size": 1, "name": "n" * 256}}, "name"),
    ({"volume": {"size": 1, "description": ["d"]}}, "description"),
    ({"volume": {"size": 1, "metadata": {"a": 1}}}, "metadata"),
    ({"volume": {"size": 1, "metadata": ["a"]}}, "metadata"),
    ({"volume": {"size": 1, "imageRef": "abc"}}, "imageRef"),
    ({"volume": {"size": 1}, "extra": 1}, "extra"),
    ({"volume": None}, "volume"),
    ({"volumes": {"size": 1}}, None),
    ([], None),
    ("size", None),
])
def test_create_refuses_bad_bodies(env, body, says):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json=body), 400, says)


def test_create_with_unknown_type_is_404(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": "no-such"}}),
                     404, "no-such")


#: The largest qcow2 image with 64 KiB clusters is 2 PiB.
QCOW2_MAX_GIB = 2 * 1024 * 1024


def test_create_larger_than_the_backend_can_hold_is_400_and_creates_nothing(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": QCOW2_MAX_GIB + 1}}), 400)


# -- list / show -------------------------------------------------------------------
def test_list_is_summaries_and_detail_is_full(env, vol):
    summary = [v for v in env.user.ok("GET", "/volumes")["volumes"] if v["id"] == vol["id"]]
    assert len(summary) == 1
    assert set(summary[0]) == {"id", "name", "links"}
    assert summary[0]["name"] == vol["name"]
    detail = [v for v in env.user.ok("GET", "/volumes/detail")["volumes"] if v["id"] == vol["id"]]
    assert detail == [env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]]
    assert detail[0]["metadata"] == {"k1": "v1"} and detail[0]["description"] == "fixture volume"


def test_list_filters_by_name_and_status(env, vol):
    for path in ("/volumes", "/volumes/detail"):
        assert [v["id"] for v in env.user.ok("GET", path, params={"name": vol["name"]})["volumes"]] == [vol["id"]]
        assert env.user.ok("GET", path, params={"name": unique()})["volumes"] == []
    available = env.user.ok("GET", "/volumes/detail", params={"status": "available"})["volumes"]
    assert vol["id"] in {v["id"] for v in available}
    assert all(v["status"] == "available" for v in available)
    assert vol["id"] not in {v["id"] for v in env.user.ok("GET", "/volumes", params={"status": "error"})["volumes"]}


def test_list_pages_with_limit_and_marker(env):
    vols = [env.user.create_volume(1, unique("page")) for _ in range(3)]
    try:
        everything = [v["id"] for v in env.user.ok("GET", "/volumes")["volumes"]]
        assert set(everything) >= {v["id"] for v in vols}
        paged, marker = [], None
        while True:
            params = {"limit": "2", **({"marker": marker} if marker else {})}
            page = [v["id"] for v in env.user.ok("GET", "/volumes/detail", params=params)["volumes"]]
            assert len(page) <= 2
            paged += page
            if len(page) < 2:
                break
            marker = page[-1]
        assert paged == everything
        assert env.user.ok("GET", "/volumes", params={"limit": "0"})["volumes"] == []
    finally:
        for v in vols:
            env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("params, status, says", [
    ({"limit": "abc"}, 400, "limit"), ({"limit": "-1"}, 400, "limit"),
    ({"marker": str(uuid.UUID(int=7))}, 404, "could not be found"),  # Cinder's VolumeNotFound
])
def test_list_refuses_bad_paging(env, params, status, says):
    for path in ("/volumes", "/volumes/detail"):
        assert_fault(env.user.request("GET", path, params=params), status, says)


def test_show_unknown_volume_is_404(env):
    missing = str(uuid.uuid4())
    assert_fault(env.user.request("GET", f"/volumes/{missing}"), 404, missing)


# -- update ----------------------------------------------------------------
def test_update_name_and_description(env, vol):
    name = unique()
    r = env.user.request("PUT", f"/volumes/{vol['id']}", json={"volume": {"name": name, "description": "new"}})
    assert r.status_code == 200, r.text
    assert (r.json()["volume"]["name"], r.json()["volume"]["description"]) == (name, "new")
    shown = env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert (shown["name"], shown["description"], shown["metadata"]) == (name, "new", {"k1": "v1"})
    # one field at a time leaves the other alone
    env.user.ok("PUT", f"/volumes/{vol['id']}", json={"volume": {"description": "newer"}})
    shown = env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert (shown["name"], shown["description"]) == (name, "newer")
    # Cinder v1/v2 spellings still work
    env.user.ok("PUT", f"/volumes/{vol['id']}", json={"volume": {"display_name": "legacy"}})
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["name"] == "legacy"


@pytest.mark.parametrize("body, says", [
    ({"volume": {}}, None),
    ({"volume": {"size": 2}}, "size"),
    ({"volume": {"name": 7}}, "name"),
    ({"volume": {"name": "n" * 256}}, "name"),
    ({"volume": {"status": "error"}}, "status"),
    ({"name": "x"}, None),
])
def test_update_refuses_bad_bodies(env, vol, body, says):
    # At 3.53 (an update that changes nothing is a 400 from there; below, it answers the volume).
    at_3_53 = {"OpenStack-API-Version": "volume 3.53"}
    assert_fault(env.user.request("PUT", f"/volumes/{vol['id']}", json=body, headers=at_3_53), 400, says)
    shown = env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert (shown["name"], shown["size"], shown["status"]) == (vol["name"], 1, "available")


def test_update_unknown_volume_is_404(env):
    assert_fault(env.user.request("PUT", f"/volumes/{uuid.uuid4()}", json={"volume": {"name": "x"}}), 404)


# -- metadata ----------------------------------------------------------------
def test_metadata_set_merges_and_replace_replaces(env, vol):
    path = f"/volumes/{vol['id']}/metadata"
    assert env.user.ok("GET", path) == {"metadata": {"k1": "v1"}}
    assert env.user.ok("POST", path, json={"metadata": {"k2": "v2", "k1": "v1b"}}) == \
        {"metadata": {"k1": "v1b", "k2": "v2"}}
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["metadata"] == {"k1": "v1b", "k2": "v2"}
    assert env.user.ok("PUT", path, json={"metadata": {"only": "this"}}) == {"metadata": {"only": "this"}}
    assert env.user.ok("GET", path) == {"metadata": {"only": "this"}}


def test_metadata_items(env, vol):
    path = f"/volumes/{vol['id']}/metadata"
    assert env.user.ok("GET", f"{path}/k1") == {"meta": {"k1": "v1"}}
    assert env.user.ok("PUT", f"{path}/k3", json={"meta": {"k3": "v3"}}) == {"meta": {"k3": "v3"}}
    assert env.user.ok("GET", path)["metadata"] == {"k1": "v1", "k3": "v3"}
    r = env.user.request("DELETE", f"{path}/k1")
    assert r.status_code == 200, r.text
    assert env.user.ok("GET", path)["metadata"] == {"k3": "v3"}
    assert_fault(env.user.request("GET", f"{path}/k1"), 404, "k1")
    assert_fault(env.user.request("DELETE", f"{path}/k1"), 404, "k1")


@pytest.mark.parametrize("method, sub, body", [
    ("POST", "", {"metadata": {"a": 1}}),
    ("POST", "", {"metadata": "a=b"}),
    ("POST", "", {"meta": {"a": "b"}}),
    ("PUT", "", {"metadata": {"a": None}}),
    ("PUT", "/a", {"meta": {"b": "x"}}),
    ("PUT", "/a", {"meta": {"a": "x", "b": "y"}}),
    ("PUT", "/a", {"meta": {"a": 3}}),
    ("PUT", "/a", {"metadata": {"a": "x"}}),
])
def test_metadata_refuses_bad_bodies(env, vol, method, sub, body):
    assert_fault(env.user.request(method, f"/volumes/{vol['id']}/metadata{sub}", json=body), 400)
    assert env.user.ok("GET", f"/volumes/{vol['id']}/metadata") == {"metadata": {"k1": "v1"}}


def test_metadata_of_unknown_volume_is_404(env):
    missing = str(uuid.uuid4())
    for method, sub, body in [("GET", "", None), ("POST", "", {"metadata": {"a": "b"}}),
                              ("PUT", "", {"metadata": {"a": "b"}}), ("GET", "/a", None),
                              ("PUT", "/a", {"meta": {"a": "b"}}), ("DELETE", "/a", None)]:
        assert_fault(env.user.request(method, f"/volumes/{missing}/metadata{sub}", json=body), 404, missing)


# -- delete ----------------------------------------------------------------
def test_delete_removes_the_volume_and_its_image(env):
    v = env.user.create_volume(1, unique())
    path = env.server.active_file(v["id"])
    assert path.exists()
    r = env.user.request("DELETE", f"/volumes/{v['id']}")
    assert r.status_code == 202 and r.content == b""
    assert_fault(env.user.request("GET", f"/volumes/{v['id']}"), 404)
    assert not path.exists()
    assert env.server.db_rows("SELECT id FROM volumes WHERE id = ?", v["id"]) == []
    assert_fault(env.user.request("DELETE", f"/volumes/{v['id']}"), 404)


@pytest.mark.parametrize("status", ["creating", "deleting", "in-use"])
def test_delete_refuses_a_busy_volume(env, vol, status):
    set_status(env.server, vol["id"], status)
    try:
        assert_fault(env.user.request("DELETE", f"/volumes/{vol['id']}"), 400, status)
        assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["status"] == status
        assert env.server.active_file(vol["id"]).exists()
    finally:
        set_status(env.server, vol["id"], "available")


def test_delete_an_errored_volume(env, vol):
    set_status(env.server, vol["id"], "error")
    assert env.user.request("DELETE", f"/volumes/{vol['id']}").status_code == 202
    assert_fault(env.user.request("GET", f"/volumes/{vol['id']}"), 404)
