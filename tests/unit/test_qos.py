"""QoS specs on the in-process service: Cinder's rules for the specs and their associations, and the
limits the memory backend is given for each volume of an associated type (at once when a spec or an
association changes, and when a volume is served)."""

from __future__ import annotations

import pytest

from volclone.domain import QosConsumer
from volclone.errors import BadRequest, Conflict, NotFound

LIMITS = {"total_iops_sec": "500", "read_bytes_sec": "1048576", "write_bytes_sec": "2097152"}


@pytest.fixture
def gold(fast):
    return fast.svc.types.create(fast.admin, "gold")


def _limits(fast, vol):
    return fast.mem.volume_qos(vol.id)


def test_a_spec_is_made_listed_shown_updated_and_its_keys_removed(fast):
    qos = fast.svc.qos
    q = qos.create(fast.admin, "fast-disk", LIMITS)
    assert (q.name, q.consumer, dict(q.specs)) == ("fast-disk", QosConsumer.BACK_END, LIMITS)
    assert [x.id for x in qos.list(fast.admin)] == [q.id]
    qos.update(fast.admin, q.id, {"consumer": "both", "total_iops_sec": "800", "vendor:x": "y"})
    shown = qos.get(fast.admin, q.id)
    assert shown.consumer is QosConsumer.BOTH
    assert shown.specs == {**LIMITS, "total_iops_sec": "800", "vendor:x": "y"}
    qos.delete_keys(fast.admin, q.id, ["vendor:x", "read_bytes_sec"])
    assert qos.get(fast.admin, q.id).specs == {"total_iops_sec": "800", "write_bytes_sec": "2097152"}
    with pytest.raises(NotFound, match="no key nope"):
        qos.delete_keys(fast.admin, q.id, ["total_iops_sec", "nope"])
    assert qos.get(fast.admin, q.id).specs == {"total_iops_sec": "800", "write_bytes_sec": "2097152"}
    with pytest.raises(Conflict):
        qos.create(fast.admin, "fast-disk", {})


@pytest.mark.parametrize(("specs", "consumer", "why"), [
    ({"total_iops_sec": "fast"}, None, "whole number"),
    ({"total_iops_sec": "-1"}, None, "whole number"),
    ({"total_iops_sec": "1.5"}, None, "whole number"),
    ({"total_iops_sec": "100", "read_iops_sec": "50"}, None, "can't be combined"),
    ({"total_bytes_sec": "100", "write_bytes_sec": "50"}, None, "can't be combined"),
    ({"total_iops_sec_max": "100"}, None, "needs total_iops_sec"),
    ({"total_iops_sec": "100", "total_iops_sec_max": "50"}, None, "at least total_iops_sec"),
    ({"read_iops_sec": "100", "read_iops_sec_max_length": "5"}, None, "needs read_iops_sec_max"),
    ({}, "elsewhere", "consumer must be one of"),
])
def test_specs_no_backend_could_enforce_are_refused(fast, specs, consumer, why):
    with pytest.raises(BadRequest, match=why):
        fast.svc.qos.create(fast.admin, "bad", specs, consumer)
    assert fast.svc.qos.list(fast.admin) == []


def test_an_update_that_breaks_the_rules_changes_nothing(fast):
    q = fast.svc.qos.create(fast.admin, "q", {"total_iops_sec": "100", "total_iops_sec_max": "200"})
    for changes in ({"read_iops_sec": "5"}, {"total_iops_sec_max": "1"}, {"name": "renamed"},
                    {"consumer": "sideways"}):
        with pytest.raises(BadRequest):
            fast.svc.qos.update(fast.admin, q.id, changes)
    with pytest.raises(BadRequest, match="needs total_iops_sec"):  # the burst would lose its rate
        fast.svc.qos.delete_keys(fast.admin, q.id, ["total_iops_sec"])
    assert fast.svc.qos.get(fast.admin, q.id) == q


def test_associating_limits_the_types_volumes_and_changes_apply_at_once(fast, gold):
    qos = fast.svc.qos
    before = fast.volume(volume_type=gold.id)
    other = fast.volume()
    q = qos.create(fast.admin, "q", LIMITS)
    qos.associate(fast.admin, q.id, gold.id)
    assert _limits(fast, before) == {k: int(v) for k, v in LIMITS.items()}
    assert _limits(fast, other) == {}
    assert qos.type_specs() == {gold.id: q.id}
    assert qos.associations(fast.admin, q.id) == [(gold.id, "gold")]

    qos.update(fast.admin, q.id, {"total_iops_sec": "0", "read_iops_sec": "50"})
    assert _limits(fast, before) == {"read_iops_sec": 50, "read_bytes_sec": 1048576, "write_bytes_sec": 2097152}
    qos.update(fast.admin, q.id, {"consumer": "front-end"})  # no longer the storage's to enforce
    assert _limits(fast, before) == {}
    qos.update(fast.admin, q.id, {"consumer": "both"})
    assert _limits(fast, before)["read_iops_sec"] == 50

    qos.disassociate(fast.admin, q.id, gold.id)
    assert _limits(fast, before) == {} and qos.associations(fast.admin, q.id) == []


def test_a_type_has_one_spec(fast, gold):
    qos = fast.svc.qos
    a, b = qos.create(fast.admin, "a", {}), qos.create(fast.admin, "b", {})
    qos.associate(fast.admin, a.id, gold.id)
    qos.associate(fast.admin, a.id, gold.id)  # again: nothing changes
    with pytest.raises(BadRequest, match="already associated with another qos specs"):
        qos.associate(fast.admin, b.id, gold.id)
    with pytest.raises(NotFound):
        qos.associate(fast.admin, b.id, "no-such-type")
    with pytest.raises(BadRequest, match="must not be None"):
        qos.associate(fast.admin, b.id, None)
    with pytest.raises(NotFound):
        qos.associate(fast.admin, "no-such-spec", gold.id)
    assert qos.type_specs() == {gold.id: a.id}


def test_a_spec_in_use_is_deleted_only_with_force(fast, gold):
    qos = fast.svc.qos
    q = qos.create(fast.admin, "q", LIMITS)
    qos.associate(fast.admin, q.id, gold.id)
    vol = fast.volume(volume_type=gold.id)
    fast.svc.attachments.initialize_connection(fast.who, fast.project, vol.id, {"host": "h1"})
    assert _limits(fast, vol)["total_iops_sec"] == 500
    with pytest.raises(BadRequest, match="still associated"):
        qos.delete(fast.admin, q.id)
    assert qos.get(fast.admin, q.id) == q
    qos.delete(fast.admin, q.id, force=True)
    with pytest.raises(NotFound):
        qos.get(fast.admin, q.id)
    assert qos.type_specs() == {} and _limits(fast, vol) == {}


def test_disassociate_all_frees_every_type(fast, gold):
    qos = fast.svc.qos
    silver = fast.svc.types.create(fast.admin, "silver")
    vols = [fast.volume(volume_type=t.id) for t in (gold, silver)]
    q = qos.create(fast.admin, "q", LIMITS)
    for t in (gold, silver):
        qos.associate(fast.admin, q.id, t.id)
    assert all(_limits(fast, v) for v in vols)
    qos.disassociate_all(fast.admin, q.id)
    assert qos.associations(fast.admin, q.id) == [] and not any(_limits(fast, v) for v in vols)
    qos.delete(fast.admin, q.id)  # free now: no force needed


def test_serving_a_volume_sets_its_limits_and_front_end_specs_go_in_connection_info(fast, gold):
    qos = fast.svc.qos
    q = qos.create(fast.admin, "q", LIMITS)
    qos.associate(fast.admin, q.id, gold.id)
    vol = fast.volume(volume_type=gold.id)
    fast.mem.set_volume_qos(vol.id, {})  # as if the backend lost them (a restart)
    info = fast.svc.attachments.initialize_connection(fast.who, fast.project, vol.id, {"host": "h1"})
    assert _limits(fast, vol) == {k: int(v) for k, v in LIMITS.items()}
    assert "qos_specs" not in info["data"], "a back-end spec is the storage's business"

    qos.update(fast.admin, q.id, {"consumer": "front-end"})
    vol2 = fast.volume(volume_type=gold.id)
    info = fast.svc.attachments.initialize_connection(fast.who, fast.project, vol2.id, {"host": "h2"})
    assert info["data"]["qos_specs"] == LIMITS
    assert _limits(fast, vol2) == {}


def test_deleting_an_associated_type_drops_the_association(fast, gold):
    q = fast.svc.qos.create(fast.admin, "q", LIMITS)
    fast.svc.qos.associate(fast.admin, q.id, gold.id)
    fast.svc.types.delete(fast.admin, gold.id)
    assert fast.svc.qos.associations(fast.admin, q.id) == []
    fast.svc.qos.delete(fast.admin, q.id)


def test_a_backend_failing_to_take_a_change_does_not_fail_it_and_the_next_attach_applies_it(fast, gold):
    qos = fast.svc.qos
    vol = fast.volume(volume_type=gold.id)
    q = qos.create(fast.admin, "q", LIMITS)
    fast.mem.inject("set_volume_qos")
    qos.associate(fast.admin, q.id, gold.id)  # the spec's change is recorded; the backend's error logged
    assert qos.type_specs() == {gold.id: q.id} and _limits(fast, vol) == {}
    fast.svc.attachments.initialize_connection(fast.who, fast.project, vol.id, {"host": "h1"})
    assert _limits(fast, vol) == {k: int(v) for k, v in LIMITS.items()}
