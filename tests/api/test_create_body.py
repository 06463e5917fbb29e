"""Cinder's whole volume-create body, as real clients send it: null means absent; a field
volclone does not serve yet, when set, is a 400 that names it, and nothing is created."""

from __future__ import annotations

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


@pytest.mark.parametrize("field", ["source_volid", "consistencygroup_id", "imageRef", "image_id",
                                   "backup_id"])
def test_a_set_unsupported_field_is_a_400_naming_it(env, field):
    body = {"volume": {**CINDERCLIENT_BODY["volume"], field: "3f0e1c1e-0000-4000-8000-0000000000aa"}}
    with creates_nothing(env.server):
        message = assert_fault(env.user.request("POST", "/volumes", json=body), 400, f"{field}: not supported yet")
    assert "Value error" not in message


def test_multiattach_and_scheduler_hints_are_refused_by_name(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, "multiattach": True}}),
                     400, "multiattach")
        assert_fault(env.user.request("POST", "/volumes", json={
            "volume": {"size": 1}, "OS-SCH-HNT:scheduler_hints": {"same_host": ["x"]}}),
            400, "OS-SCH-HNT:scheduler_hints: not supported yet (same_host)")
        assert_fault(env.user.request("POST", "/volumes", json={
            "volume": {"size": 1}, "OS-SCH-HNT:scheduler_hints": "same_host"}), 400, "scheduler_hints")


def test_an_unsupported_field_with_no_size_names_the_field(env):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"source_volid": "s1"}}), 400, "source_volid")


def test_a_snapshot_id_that_names_no_snapshot_is_a_404(env):
    """(snapshot_id is served: tests/unit/test_snapshots.py.)"""
    body = {"volume": {**CINDERCLIENT_BODY["volume"], "snapshot_id": "3f0e1c1e-0000-4000-8000-0000000000aa"}}
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json=body), 404, "could not be found")
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"snapshot_id": "s1"}}), 404)
