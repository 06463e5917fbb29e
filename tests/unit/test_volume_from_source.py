"""A volume created from another (``source_volid``) on the memory driver: made by the clone
flow (its data is the source's at one point), ``creating`` at first and ``available`` when the
flow ends, of a larger size if asked; what is refused makes nothing; a failed flow leaves the
volume ``error`` with its data gone, as Cinder leaves a failed create."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from volclone.domain import Volume, VolumeStatus
from volclone.errors import BadRequest, InvalidVolume, NotFound, OverLimit
from volclone.flows.clone_volumes import META_SOURCE, META_TASK
from volclone.flows.model import Step

from .conftest import WAIT, Fast

SETTLED = {VolumeStatus.AVAILABLE, VolumeStatus.ERROR}


def from_source(fast: Fast, source_id: str, size: int | None = None, **kw: Any) -> Volume:
    return fast.svc.clones.create_volume(fast.who, fast.project, source_id, size, **kw)


def settled(fast: Fast, volume_id: str) -> Volume:
    """The volume once its flow ended (``available`` or ``error``)."""
    deadline = time.monotonic() + WAIT
    while (vol := fast.get(volume_id)).status not in SETTLED:
        assert time.monotonic() < deadline, vol
        time.sleep(0.01)
    [task] = [row.id for row in fast.svc.clones.tasks.list()
              if any(c["id"] == volume_id for c in row.request.get("clones", []))]
    fast.wait(task)  # its revert may still run after the volume turned error
    return fast.get(volume_id)


def test_a_volume_from_a_source_is_a_clone_made_by_the_clone_flow(fast: Fast) -> None:
    src = fast.volume(1, "src", fill=b"S")
    made = from_source(fast, src.id, name="copy", description="d", metadata={"k": "v"})
    assert made.status is VolumeStatus.CREATING
    assert (made.name, made.description, made.size) == ("copy", "d", 1)
    assert made.metadata == {"k": "v", META_SOURCE: src.id}, "the source shows at once"
    done = settled(fast, made.id)
    assert done.status is VolumeStatus.AVAILABLE
    assert fast.digest(made.id) == fast.digest(src.id)
    task = done.metadata[META_TASK]
    p = fast.svc.clones.progress(fast.who, fast.project, task)
    assert p.flow_name == "cloneFlow" and p.results == {src.id: made.id}
    assert {Step.of(name) for name in p.tasks} - {None} == set(Step), "every step of the clone flow ran"


def test_the_clone_is_the_callers_user_s(fast: Fast) -> None:
    """Its ``user_id`` is the caller's from the first answer on (Tempest's schema wants a string)."""
    src = fast.volume(1, "src")
    who = replace(fast.who, user_id="5e1f0c1e00004000800000000000000b")
    made = fast.svc.clones.create_volume(who, fast.project, src.id, None)
    assert made.user_id == settled(fast, made.id).user_id == who.user_id


def test_the_source_keeps_its_metadata_and_the_clone_has_the_requests_only(fast: Fast) -> None:
    src = fast.volume(1, "src", metadata={"src-only": "1"})
    done = settled(fast, from_source(fast, src.id).id)
    assert "src-only" not in done.metadata
    assert fast.get(src.id).metadata == {"src-only": "1"}


def test_a_larger_size_extends_the_clone_and_keeps_the_data(fast: Fast) -> None:
    src = fast.volume(1, "src", fill=b"X")
    done = settled(fast, from_source(fast, src.id, 3).id)
    assert (done.status, done.size) == (VolumeStatus.AVAILABLE, 3)
    assert fast.mem.size(done.id) == 3 * 1024**3
    assert fast.mem.read(done.id, 0, 65536) == fast.mem.read(src.id, 0, 65536)


def test_an_attached_source_is_cloned_and_a_bootable_one_gives_a_bootable_clone(fast: Fast) -> None:
    src = fast.volume(1, "src", fill=b"A")
    fast.svc.volumes.set_bootable(fast.who, fast.project, src.id, True)
    att = fast.svc.attachments.create(fast.who, fast.project, src.id, instance_uuid="vm1", connector={"host": "h"})
    fast.svc.attachments.complete(fast.who, fast.project, att.id)
    assert fast.get(src.id).status is VolumeStatus.IN_USE
    made = from_source(fast, src.id)
    assert made.bootable
    assert settled(fast, made.id).status is VolumeStatus.AVAILABLE
    assert fast.get(src.id).status is VolumeStatus.IN_USE


@pytest.mark.parametrize(("size", "status", "error", "message"), [
    (0, None, BadRequest, "cannot be smaller than original volume size 2GB"),
    (1, None, BadRequest, "cannot be smaller"),
    (None, "error", InvalidVolume, "'available' or 'in-use'"),
    (None, "creating", InvalidVolume, "'available' or 'in-use'"),
])
def test_a_refused_request_makes_nothing(fast: Fast, size: int | None, status: str | None,
                                         error: type[Exception], message: str) -> None:
    src = fast.volume(2, "src")
    if status is not None:
        fast.set_status(src.id, status)
    with fast.creates_nothing(), pytest.raises(error, match=message):
        from_source(fast, src.id, size)


def test_an_unknown_or_foreign_source_or_type_is_a_404(fast: Fast) -> None:
    theirs = fast.volume(1, "theirs", project="p2")
    mine = fast.volume(1, "mine")
    with fast.creates_nothing():
        for source in ("3f0e1c1e-0000-4000-8000-0000000000aa", theirs.id):
            with pytest.raises(NotFound, match="could not be found"):
                from_source(fast, source)
        with pytest.raises(NotFound, match="volume type nope"):
            from_source(fast, mine.id, volume_type="nope")


def test_the_quota_counts_the_new_volume(make_fast: Any) -> None:
    fast = make_fast(quota_volumes=2, quota_gigabytes=10, quota_snapshots=10)
    src = fast.volume(1, "src")
    with fast.creates_nothing(), pytest.raises(OverLimit, match="gigabytes"):
        from_source(fast, src.id, 10)
    settled(fast, from_source(fast, src.id, 2).id)
    usage = fast.svc.quotas.show_usage(fast.admin, "p1", "p1")
    assert (usage["volumes"].in_use, usage["gigabytes"].in_use, usage["gigabytes"].reserved) == (2, 3, 0)
    with fast.creates_nothing(), pytest.raises(OverLimit, match="volumes"):
        from_source(fast, src.id)


@pytest.mark.parametrize("step", [Step.CREATE_SRC_GROUP, Step.CREATE_GROUP_CLONE, Step.SET_CLONES_AVAILABLE])
def test_a_failed_flow_leaves_the_volume_error_with_no_data(make_fast: Any, step: Step) -> None:
    fast = make_fast(failpoints=(step.prefix,))
    src = fast.volume(1, "src", fill=b"F")
    before = fast.digest(src.id)
    made = from_source(fast, src.id)
    done = settled(fast, made.id)
    assert done.status is VolumeStatus.ERROR
    volumes, _, snapshots = fast.mem.state()
    assert made.id not in volumes and snapshots == []
    assert fast.digest(src.id) == before and fast.get(src.id).status is VolumeStatus.AVAILABLE
    fast.svc.volumes.delete(fast.who, fast.project, made.id)  # the user deletes it, as in Cinder
    fast.svc.volumes.delete(fast.who, fast.project, src.id)  # the source is free again


@pytest.mark.parametrize(("spec", "want"), [("<is> True", True), ("<IS> true", True), ("True", False),
                                            ("<is> False", False), (None, False)])
def test_multiattach_comes_from_the_types_extra_spec(fast: Fast, spec: str | None, want: bool) -> None:
    """Cinder's rule: ``multiattach="<is> True"`` on the type; a clone follows its own type."""
    specs = {"multiattach": spec} if spec is not None else {}
    fast.svc.types.create(fast.admin, "t", extra_specs=specs)
    vol = fast.volume(1, "v", volume_type="t")
    assert vol.multiattach is want and fast.get(vol.id).multiattach is want
    clone = settled(fast, from_source(fast, vol.id).id)
    assert clone.multiattach is want
