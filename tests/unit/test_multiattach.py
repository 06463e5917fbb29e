"""Cinder's multiattach rules, in process on the memory backend: who may share a volume
(another instance only when it is multiattach; the same instance again, as Nova's live
migration does), the statuses on the way, the older volume actions, and retypes that change
the flag (refused unless the volume is available; the flag follows the type)."""

from __future__ import annotations

from typing import Any

import pytest

from volclone.domain import AttachMode, AttachStatus, VolumeStatus
from volclone.errors import BadRequest, Forbidden, InvalidVolume
from volclone.service.multiattach import other_instance_refusal, reserve_refusal, shares_export
from volclone.service.retype import Retyper

from .conftest import Fast

MULTI = {"multiattach": "<is> True"}


def _volume(fast: Fast, multiattach: bool) -> str:
    name = "multi" if multiattach else "single"
    if fast.svc.types.repo.by_name(name) is None:
        fast.svc.types.create(fast.admin, name, extra_specs=MULTI if multiattach else {})
    vol = fast.volume(volume_type=name)
    assert vol.multiattach is multiattach
    return vol.id


def _attach(fast: Fast, vid: str, instance: str | None, host: str = "h1", mode: AttachMode | None = None,
            complete: bool = True) -> str:
    a = fast.svc.attachments.create(fast.who, "p1", vid, instance_uuid=instance, connector={"host": host}, mode=mode)
    if complete:
        fast.svc.attachments.complete(fast.who, "p1", a.id)
    return a.id


def _reserve(fast: Fast, vid: str, instance: str | None) -> Any:
    return fast.svc.attachments.create(fast.who, "p1", vid, instance_uuid=instance)


def _status(fast: Fast, vid: str) -> str:
    return fast.get(vid).status.value


def _rows(fast: Fast, vid: str) -> list[tuple[Any, ...]]:
    return fast.db_rows("SELECT id, instance_uuid, status FROM attachments WHERE volume_id = ? ORDER BY id", vid)


# -- POST /attachments ---------------------------------------------------------------------
@pytest.mark.parametrize("complete, status", [(True, "in-use"), (False, "attaching")])
def test_another_instance_cannot_attach_a_volume_that_is_not_multiattach(fast: Fast, complete: bool,
                                                                         status: str) -> None:
    vid = _volume(fast, multiattach=False)
    _attach(fast, vid, "vm-1", complete=complete)
    before = _rows(fast, vid)
    for mode in (AttachMode.RW, AttachMode.RO):
        with pytest.raises(InvalidVolume, match=f"must be available to reserve, but the current status is {status}"):
            fast.svc.attachments.create(fast.who, "p1", vid, instance_uuid="vm-2", connector={"host": "h2"},
                                        mode=mode)
    with pytest.raises(InvalidVolume, match="must be available to reserve"):
        _reserve(fast, vid, None)  # no instance: never the same one
    assert _rows(fast, vid) == before and _status(fast, vid) == status


def test_another_instance_cannot_reserve_a_reserved_volume(fast: Fast) -> None:
    vid = _volume(fast, multiattach=False)
    _reserve(fast, vid, "vm-1")
    with pytest.raises(InvalidVolume, match="current status is reserved"):
        _reserve(fast, vid, "vm-2")
    assert len(_rows(fast, vid)) == 1


def test_the_same_instance_gets_a_second_attachment_for_its_live_migration(fast: Fast) -> None:
    vid = _volume(fast, multiattach=False)
    source = _attach(fast, vid, "vm-1", host="src")
    dest = fast.svc.attachments.create(fast.who, "p1", vid, instance_uuid="vm-1", connector={"host": "dst"})
    assert dest.mode is AttachMode.RW and dest.connection_info is not None  # both read-write, one export
    assert _status(fast, vid) == "in-use"
    fast.svc.attachments.complete(fast.who, "p1", dest.id)
    left = fast.svc.attachments.delete(fast.who, "p1", source)  # the migration is done
    assert [a.id for a in left] == [dest.id] and _status(fast, vid) == "in-use"
    assert fast.mem.connection_info(vid)["data"]["access_mode"] == "rw"  # still served


def test_the_same_instance_may_reserve_again_while_reserved(fast: Fast) -> None:
    vid = _volume(fast, multiattach=False)
    _reserve(fast, vid, "vm-1")
    _reserve(fast, vid, "vm-1")
    assert [r[2] for r in _rows(fast, vid)] == ["reserved", "reserved"] and _status(fast, vid) == "reserved"


def test_a_multiattach_volume_serves_several_instances(fast: Fast) -> None:
    vid = _volume(fast, multiattach=True)
    one = _attach(fast, vid, "vm-1")
    two = _attach(fast, vid, "vm-2", host="h2")
    three = _attach(fast, vid, "vm-3", host="h3")
    assert _status(fast, vid) == "in-use"
    assert {r[1] for r in _rows(fast, vid)} == {"vm-1", "vm-2", "vm-3"}
    fast.svc.attachments.delete(fast.who, "p1", one)
    fast.svc.attachments.delete(fast.who, "p1", two)
    assert _status(fast, vid) == "in-use" and fast.mem.connection_info(vid)["data"]["access_mode"] == "rw"
    fast.svc.attachments.delete(fast.who, "p1", three)
    assert _status(fast, vid) == "available"
    with pytest.raises(KeyError):
        fast.mem.connection_info(vid)  # the export went with the last attachment


def test_a_multiattach_volume_is_not_reserved_for_another_while_an_attach_is_pending(fast: Fast) -> None:
    """Cinder's contention rule: multiattach means ``available`` or ``in-use``, not reserved."""
    vid = _volume(fast, multiattach=True)
    _reserve(fast, vid, "vm-1")
    with pytest.raises(InvalidVolume, match="must be available or in-use to reserve, but the current status "
                                            "is reserved"):
        _reserve(fast, vid, "vm-2")


def test_the_attachments_of_a_multiattach_volume_do_not_mix_modes(fast: Fast) -> None:
    vid = _volume(fast, multiattach=True)
    _attach(fast, vid, "vm-1", mode=AttachMode.RO)
    _attach(fast, vid, "vm-2", host="h2", mode=AttachMode.RO)
    with pytest.raises(InvalidVolume, match="can't mix modes"):
        _attach(fast, vid, "vm-3", host="h3", mode=AttachMode.RW)
    assert len(_rows(fast, vid)) == 2


def test_statuses_of_a_multiattach_volume_follow_its_attachments(fast: Fast) -> None:
    vid = _volume(fast, multiattach=True)
    first = _reserve(fast, vid, "vm-1")
    assert _status(fast, vid) == "reserved"
    fast.svc.attachments.complete(fast.who, "p1", first.id, {"host": "h1"})
    assert _status(fast, vid) == "in-use"
    second = fast.svc.attachments.create(fast.who, "p1", vid, instance_uuid="vm-2")  # in-use: allowed
    assert second.status is AttachStatus.RESERVED and _status(fast, vid) == "in-use"  # attached wins
    fast.svc.attachments.begin_detaching(fast.who, "p1", vid)
    assert _status(fast, vid) == "detaching"
    fast.svc.attachments.delete(fast.who, "p1", first.id)
    assert _status(fast, vid) == "reserved"
    fast.svc.attachments.delete(fast.who, "p1", second.id)
    assert _status(fast, vid) == "available"


# -- the older volume actions --------------------------------------------------------------
def test_os_reserve_takes_an_in_use_volume_only_when_it_is_multiattach(fast: Fast) -> None:
    single, multi = _volume(fast, multiattach=False), _volume(fast, multiattach=True)
    for vid in (single, multi):
        _attach(fast, vid, "vm-1")
    with pytest.raises(InvalidVolume, match="must be available to reserve, but the status is in-use"):
        fast.svc.attachments.reserve(fast.who, "p1", single)
    assert _status(fast, single) == "in-use"
    fast.svc.attachments.reserve(fast.who, "p1", multi)
    assert _status(fast, multi) == "attaching"
    fast.svc.attachments.unreserve(fast.who, "p1", multi)
    assert _status(fast, multi) == "in-use"


def test_os_attach_of_another_instance_is_refused_unless_multiattach(fast: Fast) -> None:
    single, multi = _volume(fast, multiattach=False), _volume(fast, multiattach=True)
    for vid in (single, multi):
        _attach(fast, vid, "vm-1")
    with pytest.raises(InvalidVolume, match="attached to instance vm-1 and is not multiattach"):
        fast.svc.attachments.attach(fast.who, "p1", single, "vm-2", "/dev/vdb", None)
    assert [r[1] for r in _rows(fast, single)] == ["vm-1"]
    fast.svc.attachments.attach(fast.who, "p1", multi, "vm-2", "/dev/vdb", None)
    assert {r[1] for r in _rows(fast, multi)} == {"vm-1", "vm-2"} and _status(fast, multi) == "in-use"


# -- the pure rules --------------------------------------------------------------------------
def test_the_rules_read_only_the_volume(fast: Fast) -> None:
    vid = _volume(fast, multiattach=False)
    _attach(fast, vid, "vm-1")
    vol = fast.get(vid)
    assert reserve_refusal(vol, "vm-1") is None and reserve_refusal(vol, "vm-2") is not None
    assert other_instance_refusal(vol, "vm-2") is not None and other_instance_refusal(vol, None) is None
    assert shares_export(vol, "vm-1") and not shares_export(vol, "vm-2") and not shares_export(vol, None)


# -- retype --------------------------------------------------------------------------------
@pytest.mark.parametrize("start_multi", [False, True])
def test_a_retype_changing_multiattach_needs_an_available_volume(fast: Fast, start_multi: bool) -> None:
    vid = _volume(fast, multiattach=start_multi)
    _volume(fast, multiattach=not start_multi)  # makes the other type
    target = "single" if start_multi else "multi"
    retyper = Retyper(fast.svc.volumes)
    aid = _attach(fast, vid, "vm-1")
    with pytest.raises(BadRequest, match="retypes affecting multiattach are only allowed on available volumes"):
        retyper.retype(fast.who, "p1", vid, target, "never")
    assert fast.get(vid).multiattach is start_multi and _status(fast, vid) == "in-use"
    fast.svc.attachments.delete(fast.who, "p1", aid)
    done = retyper.retype(fast.who, "p1", vid, target, "never")
    assert done.multiattach is (not start_multi) and done.status is VolumeStatus.AVAILABLE
    assert fast.get(vid).multiattach is (not start_multi)


def test_an_in_use_retype_that_keeps_multiattach_is_allowed(fast: Fast) -> None:
    vid = _volume(fast, multiattach=True)
    fast.svc.types.create(fast.admin, "multi2", extra_specs=MULTI)
    _attach(fast, vid, "vm-1")
    done = Retyper(fast.svc.volumes).retype(fast.who, "p1", vid, "multi2", "never")
    assert done.multiattach and done.status is VolumeStatus.IN_USE


def test_os_attach_names_the_instance_of_a_pending_connection_and_is_checked_then(fast: Fast) -> None:
    """os-initialize_connection does not know the instance: os-attach does, and is refused."""
    vid = _volume(fast, multiattach=False)
    _attach(fast, vid, "vm-1", mode=AttachMode.RO)
    fast.svc.attachments.initialize_connection(fast.who, "p1", vid, {"host": "h2", "mode": "ro"})
    assert sorted(r[1] or "" for r in _rows(fast, vid)) == ["", "vm-1"]
    with pytest.raises(InvalidVolume, match="attached to instance vm-1 and is not multiattach"):
        fast.svc.attachments.attach(fast.who, "p1", vid, "vm-2", "/dev/vdb", None)
    fast.svc.attachments.attach(fast.who, "p1", vid, "vm-1", "/dev/vdc", None)  # its own: fine
    assert sorted(r[1] for r in _rows(fast, vid)) == ["vm-1", "vm-1"] and _status(fast, vid) == "in-use"


# -- the two policy rules ------------------------------------------------------------------
@pytest.fixture
def strict(make_fast: Any, tmp_path: Any) -> Fast:
    """Both multiattach rules narrowed to admins, as an operator may write them."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"volume:multiattach": "rule:admin_api"\n'
                      '"volume:multiattach_bootable_volume": "rule:admin_api"\n')
    fast: Fast = make_fast(policy_file=policy)
    fast.svc.types.create(fast.admin, "multi", extra_specs=MULTI)
    fast.svc.types.create(fast.admin, "single")
    return fast


def test_making_a_multiattach_volume_needs_its_rule(strict: Fast) -> None:
    fast = strict
    before = fast.volume_ids()
    with pytest.raises(Forbidden, match="volume:multiattach"):
        fast.svc.volumes.create(fast.who, "p1", 1, volume_type="multi")
    assert fast.volume_ids() == before, "nothing is made"
    single = fast.svc.volumes.create(fast.who, "p1", 1, volume_type="single")  # another type: no rule
    multi = fast.svc.volumes.create(fast.admin, "p1", 1, volume_type="multi")
    assert multi.multiattach and not single.multiattach
    # A clone of a multiattach volume is one too: source_volid and clone-volumes need the rule.
    made = fast.volume_ids()
    with pytest.raises(Forbidden, match="volume:multiattach"):
        fast.svc.clones.create_volume(fast.who, "p1", multi.id, None)
    with pytest.raises(Forbidden, match="volume:multiattach"):
        fast.clone([multi.id])
    with pytest.raises(Forbidden, match="volume:multiattach"):
        fast.svc.clones.create_volume(fast.who, "p1", single.id, None, volume_type="multi")
    assert fast.volume_ids() == made, "no clone is made"
    assert fast.wait(fast.clone([single.id])).flow_state.value == "SUCCESS"


def test_a_retype_to_a_multiattach_type_needs_the_rule(strict: Fast) -> None:
    fast = strict
    vid = fast.svc.volumes.create(fast.who, "p1", 1, volume_type="single").id
    with pytest.raises(Forbidden, match="volume:multiattach"):
        Retyper(fast.svc.volumes).retype(fast.who, "p1", vid, "multi", "never")
    assert not fast.get(vid).multiattach and fast.get(vid).volume_type_id == fast.svc.types.find("single").id
    assert Retyper(fast.svc.volumes).retype(fast.admin, "p1", vid, "multi", "never").multiattach


def test_one_more_attachment_of_a_bootable_multiattach_volume_in_use_needs_its_rule(strict: Fast) -> None:
    fast = strict
    vid = fast.svc.volumes.create(fast.admin, "p1", 1, volume_type="multi", bootable=True).id
    _attach(fast, vid, "vm-1")  # not in-use yet: the first attachment needs no more than its own rule
    before = _rows(fast, vid)
    with pytest.raises(Forbidden, match="volume:multiattach_bootable_volume"):
        _attach(fast, vid, "vm-2")
    assert _rows(fast, vid) == before and _status(fast, vid) == "in-use"
    fast.svc.attachments.create(fast.admin, "p1", vid, instance_uuid="vm-2", connector={"host": "h2"})
    fast.svc.volumes.set_bootable(fast.admin, "p1", vid, False)
    _attach(fast, vid, "vm-3")  # not bootable: the member may
    assert len(_rows(fast, vid)) == 3
