"""The attachments API's shapes and rules, and every way an attach or detach is refused.

Every refused request answers an OpenStack fault and changes nothing: no attachment row,
no volume status, no export in the daemon.
"""

from __future__ import annotations

import uuid

import pytest

from api.support import assert_fault, set_status, unique

from .support import MV, attach, call, changes_nothing, detach, exports, unreachable, uri_of

MISSING = "3f0e1c1e-0000-4000-8000-0000000000cc"

#: (method, path under /v3/{project}, JSON body) of every attachment endpoint; the first
#: ``GATED`` are the attachments API (microversion 3.27), the rest the older volume actions.
ENDPOINTS = [
    ("POST", "/attachments", {"attachment": {"volume_uuid": MISSING, "instance_uuid": MISSING,
                                             "connector": {"host": "h"}}}),
    ("GET", "/attachments", None),
    ("GET", "/attachments/detail", None),
    ("GET", f"/attachments/{MISSING}", None),
    ("PUT", f"/attachments/{MISSING}", {"attachment": {"connector": {"host": "h"}}}),
    ("DELETE", f"/attachments/{MISSING}", None),
    ("POST", f"/attachments/{MISSING}/action", {"os-complete": MISSING}),
    ("POST", f"/volumes/{MISSING}/action", {"os-initialize_connection": {"connector": {"host": "h"}}}),
    ("POST", f"/volumes/{MISSING}/action", {"os-attach": {"mountpoint": "/dev/vdb"}}),
    ("POST", f"/volumes/{MISSING}/action", {"os-detach": {}}),
    ("POST", f"/volumes/{MISSING}/action", {"os-terminate_connection": {"connector": {"host": "h"}}}),
]
GATED = 7
IDS = [f"{m} {p.replace(MISSING, '{id}')} {next(iter(b or {'': 0}))}".strip() for m, p, b in ENDPOINTS]


def create_body(volume_id: str, **fields: object) -> dict[str, object]:
    return {"attachment": {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4()),
                           "connector": {"host": "h1"}, **fields}}


def status_of(env, volume_id: str) -> str:
    return str(env.user.ok("GET", f"/volumes/{volume_id}")["volume"]["status"])


def _cleanup(env, v):
    for a in env.user.ok("GET", "/attachments", params={"volume_id": v["id"]}, headers=MV)["attachments"]:
        detach(env.user, a["id"])
    if env.user.request("GET", f"/volumes/{v['id']}").status_code == 200:
        set_status(env.server, v["id"], "available")
        env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.fixture
def vol(env):
    """A new available volume; its attachments and the volume go at the end."""
    v = env.user.create_volume(1, name=unique("att"))
    yield v
    _cleanup(env, v)


@pytest.fixture
def multi_vol(env):
    """A new available volume of a type with ``multiattach="<is> True"`` (several instances may share it)."""
    vtype = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("multi"), "extra_specs": {"multiattach": "<is> True"}}})["volume_type"]
    v = env.user.create_volume(1, name=unique("att"), volume_type=vtype["id"])
    assert v["multiattach"] is True
    yield v
    _cleanup(env, v)
    env.admin.ok("DELETE", f"/types/{vtype['id']}")


def attached(env, volume_id: str, mode: str, instance: str | None = None):
    """POST /attachments and complete it (PUT with its connector): the volume is in-use."""
    a = attach(env.user, volume_id, mode, instance)
    return env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {"connector": {"host": "test-host"}}},
                       headers=MV)["attachment"]


# -- auth and microversions ------------------------------------------------------
@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=IDS)
def test_missing_or_invalid_token_is_401(env, method, path, body):
    with changes_nothing(env.server):
        assert_fault(call(env.server, "p1", None, method, path, body), 401, "token")
        assert_fault(call(env.server, "p1", "not-a-token", method, path, body), 401, "token")


@pytest.mark.parametrize("method, path, body", ENDPOINTS, ids=IDS)
def test_other_project_is_403(env, method, path, body):
    with changes_nothing(env.server):
        assert_fault(call(env.server, "p2", env.user_token, method, path, body), 403, "Policy doesn't allow")


@pytest.mark.parametrize("version", [None, "volume 3.0", "volume 3.26"])
@pytest.mark.parametrize("method, path, body", ENDPOINTS[:GATED], ids=IDS[:GATED])
def test_attachments_below_3_27_are_404(env, vol, method, path, body, version):
    """Like Cinder for a version-gated method; the older volume actions need no microversion."""
    if body and "attachment" in body and "volume_uuid" in body["attachment"]:
        body = create_body(vol["id"])
    headers = {"OpenStack-API-Version": version} if version else {}
    with changes_nothing(env.server):
        r = env.user.request(method, path, json=body, headers=headers)
        assert_fault(r, 404, "3.27")


def test_latest_and_3_27_serve_attachments(env):
    for version, answered in (("volume 3.27", "volume 3.27"), ("volume latest", "volume 3.71")):
        r = env.user.request("GET", "/attachments", headers={"OpenStack-API-Version": version})
        assert r.status_code == 200, r.text
        assert r.headers["OpenStack-API-Version"] == answered


# -- create, show, list, complete, delete ----------------------------------------------
def test_attach_complete_detach_shapes_and_statuses(env, vol):
    server = str(uuid.uuid4())
    a = env.user.ok("POST", "/attachments", json=create_body(vol["id"], instance_uuid=server, mode="rw",
                                                             connector={"host": "h1", "mountpoint": "/dev/vdb"}),
                    headers=MV)["attachment"]
    assert set(a) == {"id", "status", "instance", "volume_id", "attached_at", "detached_at", "attach_mode",
                      "connection_info"}
    assert (a["status"], a["instance"], a["volume_id"], a["attach_mode"]) == ("attaching", server, vol["id"], "rw")
    assert a["attached_at"] == "" and a["detached_at"] == ""
    info = a["connection_info"]
    assert info["driver_volume_type"] == "nbd"
    data = info["data"]
    assert data["host"] == "127.0.0.1" and data["port"] == env.server.nbd_port
    assert data["uri"] == f"nbd://127.0.0.1:{env.server.nbd_port}/{data['export_name']}"
    assert data["access_mode"] == "rw"
    assert status_of(env, vol["id"]) == "attaching"
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["attachments"] == []  # not completed yet

    done = env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {"connector": {"host": "h1"}}},
                       headers=MV)["attachment"]
    assert done["status"] == "attached" and done["attached_at"] and done["connection_info"] == info
    volume = env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert volume["status"] == "in-use"
    # Cinder shows an attachment's host to admins (and services) only.
    assert volume["attachments"] == [{"id": vol["id"], "attachment_id": a["id"], "volume_id": vol["id"],
                                      "server_id": server, "host_name": None, "device": "/dev/vdb",
                                      "attached_at": done["attached_at"]}]
    assert env.admin.ok("GET", f"/volumes/{vol['id']}")["volume"]["attachments"][0]["host_name"] == "h1"
    assert env.user.ok("GET", f"/attachments/{a['id']}", headers=MV)["attachment"] == done
    summary = {"id": a["id"], "status": "attached", "instance": server, "volume_id": vol["id"]}
    assert summary in env.user.ok("GET", "/attachments", headers=MV)["attachments"]
    assert done in env.user.ok("GET", "/attachments/detail", headers=MV)["attachments"]
    assert env.user.ok("GET", "/attachments", params={"volume_id": vol["id"]}, headers=MV)["attachments"] == [summary]
    assert env.user.ok("GET", "/attachments", params={"instance_id": server}, headers=MV)["attachments"] == [summary]
    assert env.user.ok("GET", "/attachments", params={"volume_id": vol["id"], "status": "attaching"},
                       headers=MV)["attachments"] == []

    assert env.user.ok("DELETE", f"/attachments/{a['id']}", headers=MV) == {"attachments": []}
    assert status_of(env, vol["id"]) == "available"
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["attachments"] == []
    assert unreachable(uri_of(a))
    assert_fault(env.user.request("GET", f"/attachments/{a['id']}", headers=MV), 404)


def test_an_attachment_without_a_connector_is_reserved_until_completed(env, vol):
    a = env.user.ok("POST", "/attachments", json=create_body(vol["id"], connector=None), headers=MV)["attachment"]
    assert a["status"] == "reserved" and a["connection_info"] is None
    assert status_of(env, vol["id"]) == "reserved"
    assert f"x-{vol['id']}" not in exports(env.server)
    done = env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)["attachment"]
    assert done["status"] == "attached" and done["connection_info"]["data"]["export_name"] == vol["id"]
    assert status_of(env, vol["id"]) == "in-use"
    assert not unreachable(uri_of(done))


def test_read_only_attachments_share_one_export(env, multi_vol):
    vol = multi_vol
    one = attached(env, vol["id"], "ro")
    two = attach(env.user, vol["id"], "ro")  # another instance, once the first is in-use (Cinder's rule)
    assert one["attach_mode"] == two["attach_mode"] == "ro"
    assert one["connection_info"]["data"]["access_mode"] == "ro"
    assert uri_of(one) == uri_of(two)
    left = detach(env.user, one["id"])["attachments"]
    assert [a["id"] for a in left] == [two["id"]]
    assert not unreachable(uri_of(two)), "the other read-only attachment still uses the export"
    detach(env.user, two["id"])
    assert unreachable(uri_of(two)) and status_of(env, vol["id"]) == "available"


def test_an_attached_volume_cannot_be_deleted(env, vol):
    a = attach(env.user, vol["id"])
    env.user.ok("PUT", f"/attachments/{a['id']}", json={"attachment": {}}, headers=MV)
    with changes_nothing(env.server):
        assert_fault(env.user.request("DELETE", f"/volumes/{vol['id']}"), 400, "in-use")
    detach(env.user, a["id"])
    env.user.ok("DELETE", f"/volumes/{vol['id']}")
    assert_fault(env.user.request("GET", f"/volumes/{vol['id']}"), 404)


def test_a_deleted_volume_that_was_attached_leaves_no_export(env, vol):
    a = attach(env.user, vol["id"])
    detach(env.user, a["id"])
    env.user.ok("DELETE", f"/volumes/{vol['id']}")
    assert f"x-{vol['id']}" not in exports(env.server)


def test_an_admin_lists_every_project(env, other_project):
    v = other_project.create_volume(1, name=unique("p2"))
    a = attach(other_project, v["id"])
    try:
        assert a["id"] not in [x["id"] for x in env.user.ok("GET", "/attachments", headers=MV)["attachments"]]
        everyone = env.admin.ok("GET", "/attachments", params={"all_tenants": "1"}, headers=MV)["attachments"]
        assert a["id"] in [x["id"] for x in everyone]
    finally:
        detach(other_project, a["id"])
        other_project.ok("DELETE", f"/volumes/{v['id']}")


# -- refused attaches --------------------------------------------------------------
def test_unknown_volume_is_404(env):
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=create_body(MISSING), headers=MV), 404, MISSING)


def test_a_volume_of_another_project_is_404(env, other_project):
    v = other_project.create_volume(1, name=unique("p2"))
    try:
        with changes_nothing(env.server):
            assert_fault(env.user.request("POST", "/attachments", json=create_body(v["id"]), headers=MV), 404)
            assert_fault(env.user.request("POST", f"/volumes/{v['id']}/action",
                                          json={"os-initialize_connection": {"connector": {"host": "h"}}}), 404)
    finally:
        other_project.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("status", ["error", "creating", "deleting", "error_deleting"])
def test_a_volume_in_a_wrong_state_is_400(env, vol, status):
    set_status(env.server, vol["id"], status)
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=create_body(vol["id"]), headers=MV), 400, status)
        assert_fault(env.user.request("POST", f"/volumes/{vol['id']}/action",
                                      json={"os-initialize_connection": {"connector": {"host": "h"}}}), 400, status)


def test_a_clone_still_creating_is_400(env, vol):
    task = env.user.clone([vol["id"]])
    clone_id = env.user.wait(task)["details"]["results"][vol["id"]]
    try:
        set_status(env.server, clone_id, "creating")  # as it is until its flow ends
        with changes_nothing(env.server):
            assert_fault(env.user.request("POST", "/attachments", json=create_body(clone_id), headers=MV), 400,
                         "creating")
    finally:
        set_status(env.server, clone_id, "available")
        env.user.ok("DELETE", f"/volumes/{clone_id}")


@pytest.mark.parametrize("first, second", [("rw", "rw"), ("rw", "ro"), ("ro", "rw"), ("ro", "ro")])
@pytest.mark.parametrize("complete", [False, True])
def test_another_instance_cannot_attach_a_volume_that_is_not_multiattach(env, vol, first, second, complete):
    (attached if complete else lambda e, v, m: attach(e.user, v, m))(env, vol["id"], first)
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=create_body(vol["id"], mode=second), headers=MV),
                     400, f"must be available to reserve, but the current status is "
                          f"{'in-use' if complete else 'attaching'}")


@pytest.mark.parametrize("first, second", [("rw", "ro"), ("ro", "rw")])
def test_the_attachments_of_a_multiattach_volume_do_not_mix_modes(env, multi_vol, first, second):
    attached(env, multi_vol["id"], first)
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=create_body(multi_vol["id"], mode=second),
                                      headers=MV), 400, "mix modes")


def test_a_multiattach_volume_serves_several_instances_read_write(env, multi_vol):
    one = attached(env, multi_vol["id"], "rw", "vm-a")
    two = attached(env, multi_vol["id"], "rw", "vm-b")
    assert uri_of(one) == uri_of(two) and status_of(env, multi_vol["id"]) == "in-use"
    servers = {a["server_id"] for a in env.user.ok("GET", f"/volumes/{multi_vol['id']}")["volume"]["attachments"]}
    assert servers == {"vm-a", "vm-b"}
    detach(env.user, one["id"])
    assert not unreachable(uri_of(two)) and status_of(env, multi_vol["id"]) == "in-use"


def test_the_same_instance_gets_a_second_attachment_for_its_live_migration(env, vol):
    server = str(uuid.uuid4())
    source = attached(env, vol["id"], "rw", server)
    dest = env.user.ok("POST", "/attachments", json=create_body(vol["id"], instance_uuid=server,
                                                                connector={"host": "dest"}), headers=MV)["attachment"]
    assert dest["attach_mode"] == "rw" and uri_of(dest) == uri_of(source)
    assert status_of(env, vol["id"]) == "in-use"
    detach(env.user, source["id"])  # the migration is done
    assert not unreachable(uri_of(dest)) and status_of(env, vol["id"]) == "attaching"


@pytest.mark.parametrize("fields, needle", [
    ({"mode": "rx"}, "mode"),
    ({"mode": "RW"}, "mode"),
    ({"mode": 1}, "mode"),
    ({"connector": "host=h"}, "connector"),
    ({"connector": {"host": "h", "mode": "wo"}}, "mode"),
    ({"connector": {"host": "h", "mode": "ro"}, "mode": "rw"}, "disagree"),
    ({"volume_uuid": None}, "volume_uuid"),
    ({"volume_uuid": 5}, "volume_uuid"),
    ({"instance_uuid": 5}, "instance_uuid"),
    ({"color": "red"}, "color"),
])
def test_a_bad_create_body_is_400(env, vol, fields, needle):
    body = create_body(vol["id"], **fields)
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=body, headers=MV), 400, needle)


def test_the_connector_may_set_the_mode(env, vol):
    a = env.user.ok("POST", "/attachments", json=create_body(vol["id"], connector={"host": "h", "mode": "ro"}),
                    headers=MV)["attachment"]
    assert a["attach_mode"] == "ro"


@pytest.mark.parametrize("body", [None, {}, {"volume_uuid": MISSING}, {"attachment": {}}, {"attachment": []}])
def test_a_missing_or_malformed_body_is_400(env, body):
    with changes_nothing(env.server):
        assert_fault(env.user.request("POST", "/attachments", json=body, headers=MV), 400)


# -- refused detaches and completions ----------------------------------------------
def test_detaching_an_unknown_attachment_is_404(env, vol):
    with changes_nothing(env.server):
        assert_fault(env.user.request("DELETE", f"/attachments/{MISSING}", headers=MV), 404, MISSING)
        assert_fault(env.user.request("PUT", f"/attachments/{MISSING}", json={"attachment": {}}, headers=MV), 404)
        assert_fault(env.user.request("GET", f"/attachments/{MISSING}", headers=MV), 404)
        assert_fault(env.user.request("POST", f"/volumes/{vol['id']}/action",
                                      json={"os-detach": {"attachment_id": MISSING}}), 404)


def test_detaching_twice_is_404(env, vol):
    a = attach(env.user, vol["id"])
    detach(env.user, a["id"])
    with changes_nothing(env.server):
        assert_fault(env.user.request("DELETE", f"/attachments/{a['id']}", headers=MV), 404)


def test_another_projects_attachment_is_404(env, other_project):
    v = other_project.create_volume(1, name=unique("p2"))
    a = attach(other_project, v["id"])
    try:
        with changes_nothing(env.server):
            for method, body in (("GET", None), ("PUT", {"attachment": {}}), ("DELETE", None)):
                assert_fault(env.user.request(method, f"/attachments/{a['id']}", json=body, headers=MV), 404)
    finally:
        detach(other_project, a["id"])
        other_project.ok("DELETE", f"/volumes/{v['id']}")


def test_completing_cannot_change_the_mode(env, vol):
    a = attach(env.user, vol["id"], "rw")
    with changes_nothing(env.server):
        assert_fault(env.user.request("PUT", f"/attachments/{a['id']}",
                                      json={"attachment": {"connector": {"host": "h1", "mode": "ro"}}},
                                      headers=MV), 400, "mode")
        assert_fault(env.user.request("PUT", f"/attachments/{a['id']}", json={"attachment": {"x": 1}}, headers=MV),
                     400)


# -- the older volume actions --------------------------------------------------------
def action(env, volume_id, body):
    return env.user.request("POST", f"/volumes/{volume_id}/action", json=body)


def test_legacy_initialize_attach_terminate_detach(env, vol):
    connector = {"host": "legacy-host", "ip": "127.0.0.1"}
    r = action(env, vol["id"], {"os-initialize_connection": {"connector": connector}})
    assert r.status_code == 200, r.text
    info = r.json()["connection_info"]
    assert info["driver_volume_type"] == "nbd" and info["data"]["access_mode"] == "rw"
    again = action(env, vol["id"], {"os-initialize_connection": {"connector": connector}})
    assert again.json()["connection_info"] == info, "initialize_connection is repeatable"
    assert status_of(env, vol["id"]) == "attaching"

    server = str(uuid.uuid4())
    r = action(env, vol["id"], {"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdc", "mode": "rw"}})
    assert r.status_code == 202, r.text
    volume = env.admin.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert volume["status"] == "in-use"
    [att] = volume["attachments"]
    assert (att["server_id"], att["device"], att["host_name"]) == (server, "/dev/vdc", "legacy-host")

    # Nova's order: terminate_connection, then detach. A completed attachment ends with os-detach.
    assert action(env, vol["id"], {"os-terminate_connection": {"connector": connector}}).status_code == 202
    assert status_of(env, vol["id"]) == "in-use"
    assert action(env, vol["id"], {"os-detach": {"attachment_id": att["attachment_id"]}}).status_code == 202
    assert status_of(env, vol["id"]) == "available"
    assert unreachable(info["data"]["uri"])


def test_legacy_terminate_ends_a_connection_never_attached(env, vol):
    connector = {"host": "aborted"}
    info = action(env, vol["id"], {"os-initialize_connection": {"connector": connector}}).json()["connection_info"]
    assert action(env, vol["id"], {"os-terminate_connection": {"connector": connector}}).status_code == 202
    assert status_of(env, vol["id"]) == "available"
    assert unreachable(info["data"]["uri"])


def test_legacy_attach_without_initialize_serves_the_volume(env, vol):
    assert action(env, vol["id"], {"os-attach": {"mountpoint": "/dev/vdd", "mode": "ro"}}).status_code == 202
    [a] = env.user.ok("GET", "/attachments/detail", params={"volume_id": vol["id"]}, headers=MV)["attachments"]
    assert (a["status"], a["attach_mode"]) == ("attached", "ro")
    assert not unreachable(uri_of(a))
    assert action(env, vol["id"], {"os-detach": {}}).status_code == 202  # its only attachment
    assert status_of(env, vol["id"]) == "available"


@pytest.mark.parametrize("body, needle", [
    ({"os-no-such-action": {}}, "no action os-no-such-action"),
    ({}, "exactly one"),
    ({"os-attach": {"mountpoint": "/dev/vdb"}, "os-detach": {}}, "exactly one"),
    ({"os-detach": None}, "os-detach"),
    ({"os-attach": {}}, "mountpoint"),
    ({"os-attach": {"mountpoint": "/dev/vdb", "mode": "wr"}}, "mode"),
    ({"os-initialize_connection": {}}, "connector"),
    ({"os-terminate_connection": {"connector": []}}, "connector"),
])
def test_a_bad_action_is_400(env, vol, body, needle):
    with changes_nothing(env.server):
        assert_fault(action(env, vol["id"], body), 400, needle)


def test_legacy_detach_needs_an_id_when_there_are_several(env, multi_vol):
    vol = multi_vol
    attached(env, vol["id"], "ro")
    attach(env.user, vol["id"], "ro")
    with changes_nothing(env.server):
        assert_fault(action(env, vol["id"], {"os-detach": {}}), 400, "attachment_id")


def test_legacy_actions_on_an_unknown_volume_are_404(env):
    with changes_nothing(env.server):
        for body in ({"os-initialize_connection": {"connector": {"host": "h"}}},
                     {"os-attach": {"mountpoint": "/dev/vdb"}}, {"os-detach": {}},
                     {"os-terminate_connection": {"connector": {"host": "h"}}}):
            assert_fault(action(env, MISSING, body), 404, MISSING)


# -- races ---------------------------------------------------------------------------
def test_of_parallel_read_write_attaches_exactly_one_wins(env, vol):
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> int:
        return env.user.request("POST", "/attachments", json=create_body(vol["id"], mode="rw"),
                                headers=MV).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(one, range(8)))
    assert codes == [200] + [400] * 7, codes
    assert len(env.server.db_rows("SELECT id FROM attachments WHERE volume_id = ?", vol["id"])) == 1


def test_an_attach_racing_a_delete_never_both_succeed(env):
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(5):
        v = env.user.create_volume(1, name=unique("race"))
        with ThreadPoolExecutor(2) as pool:
            attaching = pool.submit(env.user.request, "POST", "/attachments", json=create_body(v["id"]), headers=MV)
            deleting = pool.submit(env.user.request, "DELETE", f"/volumes/{v['id']}")
            a, d = attaching.result(), deleting.result()
        assert (a.status_code == 200) != (d.status_code == 202), (a.text, d.text)
        if a.status_code == 200:
            assert status_of(env, v["id"]) == "attaching"
            detach(env.user, a.json()["attachment"]["id"])
            env.user.ok("DELETE", f"/volumes/{v['id']}")
        else:
            assert a.status_code in (400, 404), a.text
        assert f"x-{v['id']}" not in exports(env.server)
