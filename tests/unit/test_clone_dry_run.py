"""Dry runs of clone-volumes (issue 12 item 2): CloneService.plan refuses exactly what start
refuses, with the same error, makes nothing (no row of any kind, nothing in a backend), and
describes what start would make: names, types, backends, methods, bytes, estimates."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from plain import PlainDriver
from volclone.backends.base import CloneMethod
from volclone.backends.memory import MemoryDriver
from volclone.domain import CloneRequest, Principal
from volclone.errors import VolcloneError
from volclone.service.clone_plans import DEFAULT_RATES, round_estimate

from .conftest import Fast

#: What the fast footprint leaves out, and a dry run must not make either.
EXTRA_TABLES = ("reservations", "clone_idempotency_keys", "quota_locks", "clone_leftovers", "settings")
#: fill=... writes 64 KiB at 0 and 64 KiB at 1 MiB.
FILLED = 2 * 65536


def footprint(f: Fast) -> dict[str, Any]:
    return {**f.footprint(), **{t: f.db_rows(f"SELECT * FROM {t}") for t in EXTRA_TABLES}}


def plan(f: Fast, ids: list[str], who: Principal | None = None, **fields: Any) -> Any:
    before = footprint(f)
    result = f.svc.clones.plan(who or f.who, CloneRequest(f.project, list(ids), **fields))
    assert footprint(f) == before
    return result


# -- what the plan says -------------------------------------------------------------------
def test_linked_clones_copy_nothing_and_are_named_as_the_real_request_names_them(fast: Fast) -> None:
    a, b = fast.volume(1, "a", fill=b"a"), fast.volume(2, "b", fill=b"b")
    p = plan(fast, [b.id, a.id], display_name="set")
    assert [c.source_id for c in p.clones] == [b.id, a.id]
    assert [c.name for c in p.clones] == ["clone-set-1", "clone-set-2"]
    assert [c.size for c in p.clones] == [2, 1]
    default = fast.svc.types.find("__DEFAULT__")
    for c in p.clones:
        assert (c.method, c.bytes_to_copy, c.copy_seconds, c.bytes_per_second) == (CloneMethod.LINKED, 0, 0.0, None)
        assert (c.volume_type.id, c.volume_type.name, c.backend) == (default.id, "__DEFAULT__", "local")
        assert c.consistency_method == "in-memory" == p.consistency_method
    assert p.totals == {"volumes": 2, "gigabytes": 3, "bytes_to_copy": 0, "copy_seconds": 0.0}
    # and the real request names them so
    done = fast.wait(fast.clone([b.id, a.id], display_name="set"))
    assert [fast.get(done.results[s]).name for s in (b.id, a.id)] == ["clone-set-1", "clone-set-2"]


def test_a_name_made_of_the_clone_id_is_given_as_a_pattern(fast: Fast) -> None:
    ids = [fast.volume(1, "a").id, fast.volume(1, "b").id]
    p = plan(fast, ids)
    assert [(c.name, c.name_pattern) for c in p.clones] == [(None, "volume-{clone_id}")] * 2
    [one] = plan(fast, ids[:1]).clones
    assert (one.name, one.name_pattern) == ("clone-a", None)


def test_the_prefix_is_the_one_set_now(fast: Fast) -> None:
    vid = fast.volume(1, "data").id
    fast.svc.clones.set_prefix("bk_")
    assert [c.name for c in plan(fast, [vid]).clones] == ["bk_data"]


def test_full_copies_copy_what_the_source_holds_at_the_default_rate(fast: Fast) -> None:
    full = fast.svc.types.create(fast.admin, "full", extra_specs={"volume_backend_name": "local",
                                                                   "clone_mode": "full"})
    src = fast.volume(10, "a", fill=b"a", volume_type=full.id)
    linked = fast.volume(1, "b", fill=b"b")
    p = plan(fast, [src.id, linked.id], display_name="mix")
    c, d = p.clones
    rate = DEFAULT_RATES[CloneMethod.FULL]
    assert (c.method, c.bytes_to_copy, c.bytes_per_second) == (CloneMethod.FULL, FILLED, rate)
    assert (c.volume_type.id, c.volume_type.name) == (full.id, "full")
    assert c.copy_seconds == round_estimate(FILLED / rate) > 0
    assert (d.method, d.bytes_to_copy) == (CloneMethod.LINKED, 0)
    assert p.totals["bytes_to_copy"] == FILLED and p.totals["gigabytes"] == 11


def test_bytes_to_copy_follow_the_data_written_not_the_size(fast: Fast) -> None:
    full = fast.svc.types.create(fast.admin, "full", extra_specs={"clone_mode": "full"})
    vol = fast.volume(4, "a", volume_type=full.id)
    assert plan(fast, [vol.id]).clones[0].bytes_to_copy == 0
    fast.mem.write(vol.id, 3 * 1024**3, b"x" * 3 * 65536)
    assert plan(fast, [vol.id]).clones[0].bytes_to_copy == 3 * 65536


def test_a_target_type_on_another_backend_is_a_cross_backend_copy_there(make_fast: Callable[..., Fast]) -> None:
    f = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    t = f.svc.types.create(f.admin, "elsewhere", extra_specs={"volume_backend_name": "mem2"})
    a = f.volume(1, "a", fill=b"a")
    [c] = plan(f, [a.id], target_type_id=t.id).clones
    assert (c.method, c.backend, c.volume_type.name) == (CloneMethod.CROSS_BACKEND_COPY, "mem2", "elsewhere")
    assert (c.bytes_to_copy, c.bytes_per_second) == (FILLED, DEFAULT_RATES[CloneMethod.CROSS_BACKEND_COPY])
    assert c.consistency_method == "in-memory"


def test_a_target_type_on_the_same_backend_takes_its_clone_mode(fast: Fast) -> None:
    full = fast.svc.types.create(fast.admin, "full", extra_specs={"clone_mode": "full"})
    a = fast.volume(1, "a", fill=b"a")
    [c] = plan(fast, [a.id], target_type_id=full.id).clones
    assert (c.method, c.volume_type.id, c.bytes_to_copy) == (CloneMethod.FULL, full.id, FILLED)


def test_the_estimate_has_two_significant_digits() -> None:
    assert [round_estimate(s) for s in (0, 0.012345, 1.26, 12.6, 1234.5)] == [0.0, 0.012, 1.3, 13.0, 1200.0]


def test_an_admin_plans_in_any_project(fast: Fast) -> None:
    vid = fast.volume(1, "a").id
    assert [c.source_id for c in plan(fast, [vid], who=fast.admin).clones] == [vid]


# -- the same refusals as a real request ------------------------------------------------------
Case = Callable[[Fast], dict[str, Any]]


def _ids(f: Fast, n: int = 2) -> list[str]:
    return [f.volume(1, f"s{i}").id for i in range(n)]


def _status(status: str) -> Case:
    def case(f: Fast) -> dict[str, Any]:
        ids = _ids(f)
        f.set_status(ids[1], status)
        return {"ids": ids}
    return case


def _other_backend(f: Fast) -> dict[str, Any]:
    t = f.svc.types.create(f.admin, "two", extra_specs={"volume_backend_name": "mem2"})
    return {"ids": [f.volume(1).id, f.volume(1, volume_type=t.id).id]}


def _type_on(backend: str) -> Case:
    def case(f: Fast) -> dict[str, Any]:
        t = f.svc.types.create(f.admin, f"on-{backend}", extra_specs={"volume_backend_name": backend})
        return {"ids": _ids(f), "target_type_id": t.id}
    return case


def _plain_source(f: Fast) -> dict[str, Any]:
    t = f.svc.types.create(f.admin, "plain", extra_specs={"volume_backend_name": "plain"})
    return {"ids": [f.volume(1, volume_type=t.id).id]}


def _too_big_for(f: Fast) -> dict[str, Any]:
    t = f.svc.types.create(f.admin, "small", extra_specs={"volume_backend_name": "small"})
    return {"ids": [f.volume(1).id, f.volume(2).id], "target_type_id": t.id}


def _private_type(f: Fast) -> dict[str, Any]:
    t = f.svc.types.create(f.admin, "private", is_public=False)
    return {"ids": _ids(f), "target_type_id": t.id}


def _long_name(f: Fast) -> dict[str, Any]:
    return {"ids": _ids(f, 1), "display_name": "n" * 250}


def _over_quota(resource: str) -> Case:
    def case(f: Fast) -> dict[str, Any]:
        ids = _ids(f, 3)  # 3 volumes of 1 GiB: the limit below leaves room for 2 more
        f.svc.quotas.update(f.admin, "admin", f.project, {resource: 5})
        return {"ids": ids}
    return case


BAD: dict[str, Case] = {
    "no volumes": lambda f: {"ids": []},
    "a volume twice": lambda f: {"ids": (lambda i: [i[0], i[1], i[0]])(_ids(f))},
    "too many volumes": lambda f: {"ids": _ids(f, 5)},
    "an unknown volume": lambda f: {"ids": [*_ids(f), str(uuid.uuid4())]},
    "an odd volume id": lambda f: {"ids": ["../../etc/passwd"]},
    "another project's volume": lambda f: {"ids": [_ids(f, 1)[0], f.volume(1, project="p2").id]},
    "a source in error": _status("error"),
    "a source being created": _status("creating"),
    "a source attaching": _status("attaching"),
    "sources on two backends": _other_backend,
    "an unknown target type": lambda f: {"ids": _ids(f), "target_type_id": str(uuid.uuid4())},
    "a private target type": _private_type,
    "a target type on no backend": _type_on("nowhere"),
    "a target backend that can't import": _type_on("plain"),
    "a source backend without group snapshots": _plain_source,
    "a target backend too small": _too_big_for,
    "a name too long with the prefix": _long_name,
    "over the volumes quota": _over_quota("volumes"),
    "over the gigabytes quota": _over_quota("gigabytes"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_dry_run_refuses_what_a_real_request_refuses_with_the_same_error(make_fast: Callable[..., Fast],
                                                                             case: str) -> None:
    small = MemoryDriver("small")
    small.max_size_gib = 1
    f = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2"), "plain": PlainDriver("plain"),
                           "small": small}, max_clone_volumes=4)
    fields = BAD[case](f)
    req = CloneRequest(f.project, fields.pop("ids"), **fields)
    before = footprint(f)
    with pytest.raises(VolcloneError) as planned:
        f.svc.clones.plan(f.who, req)
    assert footprint(f) == before
    with pytest.raises(VolcloneError) as real:
        f.svc.clones.start(f.who, req)
    assert footprint(f) == before
    assert (type(planned.value), planned.value.status) == (type(real.value), real.value.status)
    # the same words, but for a clone id a message may carry (none does today)
    assert planned.value.message == real.value.message


def test_a_quota_the_plan_fits_is_not_held(make_fast: Callable[..., Fast]) -> None:
    f = make_fast(quota_volumes=2, quota_gigabytes=-1, quota_snapshots=-1)
    vid = f.volume(1, "a").id
    assert len(plan(f, [vid]).clones) == 1  # 1 of the 1 volume left
    assert len(plan(f, [vid]).clones) == 1  # and again: nothing was reserved
    assert f.wait(f.clone([vid])).flow_state.value == "SUCCESS"
