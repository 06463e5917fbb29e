"""Cinder's capability filter in volclone's placement: each extra-spec operator, which specs are
capabilities (unscoped, ``capabilities:``) and which are not (other scopes, unscoped names no
backend reports), and a create whose type no backend can meet: accepted, ``error``, and a user
message ``schedule allocate volume`` (Cinder's "no valid backend"), in process on the memory driver."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.domain import VolumeStatus
from volclone.service.capabilities import REPORTED, asked, backend_capabilities, satisfies
from volclone.service.spec_ops import bool_from, match

from .conftest import Fast
from .http import Http
from .test_messages import messages


@pytest.mark.parametrize(("capability", "requirement", "expected"), [
    # no operator: the value itself
    ("NBD", "NBD", True), ("NBD", "nbd", False), (True, "True", False), (None, "NBD", False),
    # <is>: booleans as oslo reads them
    (True, "<is> True", True), (True, "<is> true", True), (False, "<is> True", False), (True, "<is> False", False),
    ("yes", "<is> 1", True), ("no", "<is> False", True), (None, "<is> True", False),
    # <in>: a substring
    ("ceph-pool", "<in> pool", True), ("NBD", "<in> iSCSI", False), (True, "<in> True", False),
    # <or>: one of
    ("NBD", "<or> ceph <or> NBD", True), ("iSCSI", "<or> ceph <or> NBD", False), ("NBD", "<or>", False),
    # numbers; "=" is "at least", as in Cinder
    (100, "= 10", True), (5, "= 10", False), (10, "== 10.0", True), ("10", "!= 11", True), (10, ">= 10", True),
    (9, ">= 10", False), (10, "<= 9", False), ("unknown", ">= 10", False), (True, "== 1", False), (10, ">=", False),
    # strings
    ("abc", "s== abc", True), ("abc", "s!= abc", False), ("abc", "s< abd", True), ("abc", "s<= abc", True),
    ("abd", "s> abc", True), ("abc", "s>= abd", False), (True, "s< x", False),
])
def test_each_operator_matches_as_cinders(capability: Any, requirement: str, expected: bool) -> None:
    assert match(capability, requirement) is expected


def test_a_missing_requirement_matches_only_a_missing_capability() -> None:
    assert match(None, None) and not match("x", None)
    assert bool_from(True) and bool_from(" On ") and not bool_from("nope") and not bool_from(False)


def test_which_specs_ask_for_a_capability() -> None:
    specs = {"vendor_name": "volclone", "capabilities:storage_protocol": "<in> NBD", "qos:read_iops": "100",
             "RESKEY:availability_zones": "nova", "clone_mode": "full", "spec1": "val1",
             "capabilities:nested:key": "x"}
    assert sorted(asked(specs)) == [(["nested", "key"], "x"), (["storage_protocol"], "<in> NBD"),
                                    (["vendor_name"], "volclone")]
    assert "clone_mode" not in REPORTED and "vendor_name" in REPORTED
    # multiattach says what the volumes are: matched only when scoped.
    assert asked({"multiattach": "<is> False"}) == []
    assert asked({"capabilities:multiattach": "<is> False"}) == [(["multiattach"], "<is> False")]


def test_a_backend_satisfies_the_specs_that_name_its_capabilities() -> None:
    caps = backend_capabilities("local", None)
    assert satisfies(caps, {})
    assert satisfies(caps, {"vendor_name": "volclone", "volume_backend_name": "local",
                            "capabilities:thin_provisioning_support": "<is> True", "multiattach": "<is> True"})
    assert not satisfies(caps, {"vendor_name": "acme"})
    assert not satisfies(caps, {"capabilities:thick_provisioning_support": "<is> True"})
    assert not satisfies(caps, {"volume_backend_name": "ceph"})
    assert satisfies(caps, {"multiattach": "<is> False"}) and satisfies(caps, {"multiattach": "True"})
    assert not satisfies(caps, {"capabilities:multiattach": "<is> False"})
    # Not capabilities: other scopes, and an unscoped name no backend reports (volclone's choice).
    assert satisfies(caps, {"qos:vendor_name": "acme", "clone_mode": "full", "spec1": "val1"})
    # A capabilities: key that names nothing reported fails, as in Cinder; so does a path into a plain value.
    assert not satisfies(caps, {"capabilities:no_such": "x"})
    assert not satisfies(caps, {"capabilities:vendor_name:deeper": "x"})
    # max_volume_size_gb is None for a backend without a limit: not reported, so no match.
    assert not satisfies(caps, {"max_volume_size_gb": ">= 1"})


def _bogus_type(http: Http, **specs: str) -> str:
    body = {"volume_type": {"name": "bogus", "extra_specs": specs}}
    return http.ok("POST", "/types", body, token=http.admin)["volume_type"]["id"]  # type: ignore[no-any-return]


def test_a_create_no_backend_can_take_is_accepted_and_ends_in_error_with_a_message(http: Http) -> None:
    fast: Fast = http.fast
    type_id = _bogus_type(http, storage_protocol="tempest-storage_protocol", vendor_name="tempest-vendor")
    r = http.call("POST", "/volumes", {"volume": {"size": 1, "volume_type": type_id}}, version="3.3")
    assert r.status_code == 202, r.text
    vol = r.json()["volume"]
    assert vol["status"] == "error"
    assert http.ok("GET", f"/volumes/{vol['id']}")["volume"]["status"] == "error"
    assert not fast.mem.volume_exists(vol["id"])  # the backend was never asked
    [m] = messages(http)
    assert (m["resource_uuid"], m["event_id"]) == (vol["id"], "VOLUME_VOLUME_001_003")
    assert m["user_message"] == "schedule allocate volume:Could not find any available weighted backend."
    assert m["request_id"] == r.headers["x-openstack-request-id"]
    # It counts against the quota until deleted (as Cinder's error volume), and deletes cleanly.
    assert fast.svc.volumes.repo.get(vol["id"]) is not None
    http.ok("DELETE", f"/volumes/{vol['id']}", status=202)
    assert http.call("GET", f"/volumes/{vol['id']}").status_code == 404


def test_a_type_whose_specs_the_backend_meets_is_created_as_before(http: Http) -> None:
    fast: Fast = http.fast
    type_id = _bogus_type(http, vendor_name="volclone", storage_protocol="<or> NBD <or> memory",
                          multiattach="<is> True", clone_mode="full", spec1="val1")
    vol = fast.svc.volumes.create(fast.who, "p1", 1, volume_type=type_id)
    assert vol.status is VolumeStatus.AVAILABLE
    assert messages(http) == []
