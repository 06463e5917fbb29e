"""Cinder's whole volume-create body, as real clients send it: null means absent; a field
volclone does not serve yet, when set, is a 400 that names it, and nothing is created."""

from __future__ import annotations

import time

import pytest

from .support import assert_fault, creates_nothing, unique

#: What openstackclient 10.5 (openstacksdk 4.22) sends for ``volume create --size 1 NAME``.
OPENSTACKCLIENT_BODY = {"volume": {
    "volume_type": None, "size": 1, "availability_zone": None, "imageRef": None, "backup_id": None,
    "consistencygroup_id": None, "description": None, "source_volid": None, "snapshot_id": None,
    "metadata": None}}
#: What cinderclient 9.10 sends for ``create 1``.
CINDERCLIENT_BODY = {"volume": {
    "size": 1, "consistencygroup_id": None, "snapshot_id": None, "name": None, "description": None,
    "volume_type": None, "availability_zone": None, "metadata": {}, "imageRef": None, "source_volid": None,
    "backup_id": None}}


@pytest.mark.parametrize("body", [
    OPENSTACKCLIENT_BODY,
    CINDERCLIENT_BODY,
    {**CINDERCLIENT_BODY, "OS-SCH-HNT:scheduler_hints": None},
    {**CINDERCLIENT_BODY, "OS-SCH-HNT:scheduler_hints": {}},
    {"volume": {"size": 1, "multiattach": False, "image_id": None, "group_id": None, "display_name": None,
                "display_description": None}},
], ids=["openstackclient", "cinderclient", "null-hints", "empty-hints", "other-nulls"])
def test_real_clients_bodies_create_a_volume(env, body):
    name = unique()
    body = {**body, "volume": {**body["volume"], "name": name}}
    r = env.user.request("POST", "/volumes", json=body)
    assert r.status_code == 202, r.text
    v = r.json()["volume"]
    try:
        assert (v["name"], v["size"], v["metadata"], v["status"]) == (name, 1, {}, "available")
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


def test_legacy_display_fields_name_the_volume(env):
    name = unique()
    v = env.user.create_volume(1, display_name=name, display_description="old spelling")
    try:
        assert (v["name"], v["description"]) == (name, "old spelling")
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("field", ["imageRef", "image_id", "backup_id"])
def test_an_image_or_a_backup_is_a_400_saying_it_is_not_served(env, field):
    body = {"volume": {**CINDERCLIENT_BODY["volume"], field: "3f0e1c1e-0000-4000-8000-0000000000aa"}}
    with creates_nothing(env.server):
        message = assert_fault(env.user.request("POST", "/volumes", json=body), 400, f"{field}: not served")
    assert "no image or backup service" in message and "Value error" not in message


@pytest.mark.parametrize("field", ["consistencygroup_id"])
def test_a_set_unsupported_field_is_a_400_naming_it(env, field):
    body = {"volume": {**CINDERCLIENT_BODY["volume"], field: "3f0e1c1e-0000-4000-8000-0000000000aa"}}
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json=body), 400, f"{field}: not supported yet")


def test_multiattach_in_the_body_is_refused_naming_the_types_extra_spec(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, "multiattach": True}}),
                     400, 'multiattach="<is> True"')


HOST = "3f0e1c1e-0000-4000-8000-0000000000aa"


@pytest.mark.parametrize("hints", [{"same_host": [HOST]}, {"different_host": HOST}, {"query": "[]"},
                                   {"local_to_instance": HOST}, {"something_else": 1}])
@pytest.mark.parametrize("where", ["top", "volume"])
def test_well_formed_scheduler_hints_are_accepted(env, hints, where):
    body: dict = {"volume": {"size": 1, "name": unique()}}
    if where == "top":
        body["OS-SCH-HNT:scheduler_hints"] = hints
    else:
        body["volume"]["scheduler_hints"] = hints
    r = env.user.request("POST", "/volumes", json=body)
    assert r.status_code == 202, r.text
    env.user.ok("DELETE", f"/volumes/{r.json()['volume']['id']}")


@pytest.mark.parametrize(("hints", "message"), [
    ({"same_host": ["x"]}, "same_host must be a volume id"), ({"different_host": []}, "different_host"),
    ({"different_host": 3}, "different_host"), ({"local_to_instance": "vm"}, "local_to_instance"),
    ({"query": 5}, "query"), ("same_host", "scheduler_hints")])
def test_misshapen_scheduler_hints_are_a_400(env, hints, message):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={
            "volume": {"size": 1}, "OS-SCH-HNT:scheduler_hints": hints}), 400, message)
        assert_fault(env.user.request("POST", "/volumes", json={
            "volume": {"size": 1, "scheduler_hints": hints}}), 400, message)


def test_the_served_availability_zone_is_accepted_and_another_is_a_400(env):
    v = env.user.create_volume(1, availability_zone="nova", name=unique())
    try:
        assert v["availability_zone"] == "nova"
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, "availability_zone": "x"}}),
                     400, "Availability zone 'x' is invalid")


def test_bootable_is_stored(env):
    v = env.user.create_volume(1, bootable=True, name=unique())
    try:
        assert v["bootable"] == "true"
        assert env.user.ok("GET", f"/volumes/{v['id']}")["volume"]["bootable"] == "true"
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


def test_a_missing_size_is_a_400_unless_a_source_gives_it(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"name": "x"}}), 400, "size is required")
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"source_volid": "s1", "snapshot_id": "s"}}),
                     400, "not both")


def test_a_snapshot_id_that_names_no_snapshot_is_a_404(env):
    """(snapshot_id is served: tests/unit/test_snapshots.py.)"""
    body = {"volume": {**CINDERCLIENT_BODY["volume"], "snapshot_id": "3f0e1c1e-0000-4000-8000-0000000000aa"}}
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json=body), 404, "could not be found")
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"snapshot_id": "s1"}}), 404)


def _wait_status(env, volume_id: str, want: str) -> dict:
    deadline = time.monotonic() + 60
    while (v := env.user.ok("GET", f"/volumes/{volume_id}")["volume"])["status"] != want:
        assert v["status"] in ("creating", want) and time.monotonic() < deadline, v
        time.sleep(0.05)
    return v


def test_source_volid_clones_a_volume_on_the_local_pool(env):
    """The whole path on a real server: 202 ``creating`` with ``source_volid``, then
    ``available``, bigger than the source when asked, and independent of it."""
    src = env.user.create_volume(1, name=unique())
    body = {"volume": {**CINDERCLIENT_BODY["volume"], "source_volid": src["id"], "size": 2, "name": unique(),
                       "metadata": {"k": "v"}}}
    r = env.user.request("POST", "/volumes", json=body)
    assert r.status_code == 202, r.text
    made = r.json()["volume"]
    try:
        assert (made["status"], made["source_volid"], made["size"]) == ("creating", src["id"], 2)
        done = _wait_status(env, made["id"], "available")
        assert (done["source_volid"], done["size"], done["metadata"]["k"]) == (src["id"], 2, "v")
        env.user.ok("DELETE", f"/volumes/{src['id']}")  # the clone does not hold its source
        src = None
        assert env.user.ok("GET", f"/volumes/{made['id']}")["volume"]["status"] == "available"
    finally:
        _wait_status(env, made["id"], "available")
        env.user.ok("DELETE", f"/volumes/{made['id']}")
        if src is not None:
            env.user.ok("DELETE", f"/volumes/{src['id']}")


def test_source_volid_errors_are_cinders(env):
    src = env.user.create_volume(2, name=unique())
    try:
        with creates_nothing(env.server):
            assert_fault(env.user.request("POST", "/volumes", json={"volume": {"source_volid": src["id"], "size": 1}}),
                         400, "cannot be smaller than original volume size 2GB")
            assert_fault(env.user.request("POST", "/volumes", json={
                "volume": {"source_volid": "3f0e1c1e-0000-4000-8000-0000000000aa"}}), 404, "could not be found")
    finally:
        env.user.ok("DELETE", f"/volumes/{src['id']}")


def test_a_multiattach_type_makes_multiattach_volumes(env):
    name = unique("multi")
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": name,
                                                            "extra_specs": {"multiattach": "<is> True"}}})
    tid = t["volume_type"]["id"]
    try:
        v = env.user.create_volume(1, name=unique(), volume_type=name)
        plain = env.user.create_volume(1, name=unique())
        assert (v["multiattach"], plain["multiattach"]) == (True, False)
        assert env.user.ok("GET", f"/volumes/{v['id']}")["volume"]["multiattach"] is True
        for vol in (v, plain):
            env.user.ok("DELETE", f"/volumes/{vol['id']}")
    finally:
        env.admin.ok("DELETE", f"/types/{tid}")
