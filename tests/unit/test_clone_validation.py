"""CloneService.start refuses what it must, and then nothing is created: no volume, task,
group, flow, or anything in a backend. The same cases tests/api/test_clone_api.py sends
through HTTP (where the body's shape is checked too), here on the service itself."""

from __future__ import annotations

import uuid

import pytest

from plain import PlainDriver
from volclone.backends.memory import MemoryDriver
from volclone.domain import CloneRequest, Principal
from volclone.errors import BadRequest, CapabilityMissing, InvalidVolume, NotFound

from .conftest import Fast


@pytest.fixture
def two(fast: Fast) -> list[str]:
    return [fast.volume(1, "a", fill=b"a").id, fast.volume(2, "b", fill=b"b").id]


def test_no_volumes(fast: Fast) -> None:
    with fast.creates_nothing(), pytest.raises(BadRequest, match="at least one"):
        fast.clone([])


def test_a_volume_named_twice(fast: Fast, two: list[str]) -> None:
    with fast.creates_nothing(), pytest.raises(BadRequest, match="twice"):
        fast.clone([two[0], two[1], two[0]])


def test_too_many_volumes(make_fast) -> None:
    f: Fast = make_fast(max_clone_volumes=3)
    ids = [f.volume(1, f"v{i}").id for i in range(4)]
    with f.creates_nothing(), pytest.raises(BadRequest, match="at most 3"):
        f.clone(ids)
    p = f.wait(f.clone(ids[:3]))
    assert p.flow_state.value == "SUCCESS"
    assert list(p.results) == ids[:3]


def test_the_default_limit_allows_many(fast: Fast) -> None:
    ids = [fast.volume(1).id for _ in range(30)]
    p = fast.wait(fast.clone(ids))
    assert p.flow_state.value == "SUCCESS" and list(p.results) == ids


@pytest.mark.parametrize("where", [0, 1, 2])
def test_an_unknown_volume_is_404(fast: Fast, two: list[str], where: int) -> None:
    missing = str(uuid.uuid4())
    ids = list(two)
    ids.insert(where, missing)
    with fast.creates_nothing(), pytest.raises(NotFound, match=missing):
        fast.clone(ids)


def test_another_projects_volume_is_404_both_ways(fast: Fast, two: list[str]) -> None:
    theirs = fast.volume(1, "theirs", project="p2").id
    with fast.creates_nothing():
        with pytest.raises(NotFound, match=theirs):
            fast.clone([two[0], theirs])
        with pytest.raises(NotFound, match=two[0]):
            fast.svc.clones.start(Principal("p2"), CloneRequest("p2", [two[0]]))


def test_an_admin_clones_in_any_project(fast: Fast, two: list[str]) -> None:
    task = fast.svc.clones.start(fast.admin, CloneRequest("p1", two))
    assert fast.wait(task).flow_state.value == "SUCCESS"


@pytest.mark.parametrize("status", ["error", "creating", "deleting", "error_deleting", "reserved", "attaching"])
def test_a_source_that_cannot_be_cloned_is_400(fast: Fast, two: list[str], status: str) -> None:
    fast.set_status(two[1], status)
    with fast.creates_nothing(), pytest.raises(InvalidVolume, match=status):
        fast.clone(two)


@pytest.mark.parametrize("ids", [
    ["x" * 10_000], ["'; DROP TABLE volumes; --"], ["../../../etc/passwd"], ["\u00e9\u4e2d\U0001f600"], ["a\u0000b"],
    ["%s%s%n"], [" "], [""],
])
def test_odd_volume_ids_are_404(fast: Fast, ids: list[str]) -> None:
    with fast.creates_nothing(), pytest.raises(NotFound):
        fast.clone(ids)


# -- target-volume-type-id ------------------------------------------------------------
#: A type id no server made (fixed: the pytest-xdist workers must collect the same tests).
UNKNOWN_TYPE = "0f3c1d9e-5b7a-4c2e-9d41-6a8b2f0e7c13"


@pytest.mark.parametrize("type_id", [UNKNOWN_TYPE, "x" * 10_000, "'; DROP TABLE volume_types; --", "\u0000",
                                     "default", "__DEFAULT__"])
def test_an_unknown_target_type_is_404(fast: Fast, two: list[str], type_id: str) -> None:
    with fast.creates_nothing(), pytest.raises(NotFound):
        fast.clone(two, target_type_id=type_id)


def test_a_target_type_on_a_backend_that_does_not_exist_is_400(fast: Fast, two: list[str]) -> None:
    t = fast.svc.types.create(fast.admin, "elsewhere", extra_specs={"volume_backend_name": "other"})
    with fast.creates_nothing(), pytest.raises(BadRequest, match="backend"):
        fast.clone(two, target_type_id=t.id)


def test_the_target_type_is_given_to_the_clones(fast: Fast, two: list[str]) -> None:
    t = fast.svc.types.create(fast.admin, "gold", extra_specs={"volume_backend_name": "local"})
    p = fast.wait(fast.clone(two, target_type_id=t.id))
    assert p.flow_state.value == "SUCCESS"
    for src in two:
        assert fast.get(p.results[src]).volume_type_id == t.id
        assert fast.get(src).volume_type_id != t.id


def test_sources_on_different_backends_are_400(make_fast) -> None:
    f: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    t = f.svc.types.create(f.admin, "two", extra_specs={"volume_backend_name": "mem2"})
    a, b = f.volume(1).id, f.volume(1, volume_type=t.id).id
    with f.creates_nothing(), pytest.raises(BadRequest, match="different backends"):
        f.clone([a, b])


def test_a_backend_without_group_snapshots_is_refused(make_fast) -> None:
    f: Fast = make_fast(drivers={"local": MemoryDriver("local"), "plain": PlainDriver("plain")})
    t = f.svc.types.create(f.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    vid = f.volume(1, volume_type=t.id).id
    with f.creates_nothing(), pytest.raises(CapabilityMissing, match="atomically"):
        f.clone([vid])


def test_a_target_backend_that_cannot_import_is_refused(make_fast) -> None:
    f: Fast = make_fast(drivers={"local": MemoryDriver("local"), "plain": PlainDriver("plain")})
    t = f.svc.types.create(f.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    vid = f.volume(1).id
    with f.creates_nothing(), pytest.raises(CapabilityMissing, match="plain"):
        f.clone([vid], target_type_id=t.id)


def test_a_target_backend_too_small_is_refused(make_fast) -> None:
    small = MemoryDriver("small")
    small.max_size_gib = 1
    f: Fast = make_fast(drivers={"local": MemoryDriver("local"), "small": small})
    t = f.svc.types.create(f.admin, "small", extra_specs={"volume_backend_name": "small"})
    ok, big = f.volume(1).id, f.volume(2).id
    with f.creates_nothing(), pytest.raises(BadRequest, match=big):
        f.clone([ok, big], target_type_id=t.id)


def test_clones_onto_another_backend_are_copies_there(make_fast) -> None:
    other = MemoryDriver("mem2")
    f: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": other})
    t = f.svc.types.create(f.admin, "two", extra_specs={"volume_backend_name": "mem2"})
    srcs = [f.volume(1, "a", fill=b"a").id, f.volume(2, "b", fill=b"b").id]
    sums = {s: f.digest(s) for s in srcs}
    p = f.wait(f.clone(srcs, target_type_id=t.id))
    assert p.flow_state.value == "SUCCESS"
    assert p.extra["bytes_done"] == p.extra["bytes_total"] > 0
    for src in srcs:
        clone = f.get(p.results[src])
        assert (clone.backend, clone.volume_type_id, clone.status.value) == ("mem2", t.id, "available")
        assert other.volume_exists(clone.id) and other.depth(clone.id) == 1
        assert f.digest(clone.id) == sums[src]
    assert f.mem.state()[2] == [], "the snapshot on the sources' backend is gone"
