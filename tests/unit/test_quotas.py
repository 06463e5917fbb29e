"""Quotas on the whole in-process service: limits, 413s naming the resource with nothing made,
exact usage under concurrent creates and clones, and usage freed by deletes, reverts and expiry."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from volclone.config import Settings
from volclone.db.schema import utcnow
from volclone.domain import CloneRequest, Principal
from volclone.errors import BadRequest, Forbidden, OverLimit, VolcloneError
from volclone.flows.model import Step

from .conftest import Fast

#: Cinder's defaults, which the service has when nothing is configured (the fast services of the
#: other tests have no quotas).
CINDER = {"quota_volumes": 10, "quota_gigabytes": 1000, "quota_snapshots": 10}
#: Cinder's defaults of the resources the fast services leave as they are.
OTHERS = {"backups": 10, "backup_gigabytes": 1000, "groups": 10, "per_volume_gigabytes": -1}


def with_quotas(make_fast: Any, **settings: Any) -> Fast:
    """A fast service with Cinder's default quotas, but for ``settings``."""
    return make_fast(**{**CINDER, **settings})  # type: ignore[no-any-return]


@pytest.fixture
def fast(make_fast: Any) -> Fast:
    return with_quotas(make_fast)


def usage(fast: Fast, project: str = "p1") -> dict[str, tuple[int, int, int]]:
    """resource -> (limit, in_use, reserved), as the admin reads it."""
    shown = fast.svc.quotas.show_usage(fast.admin, project, project)
    return {r: (u.limit, u.in_use, u.reserved) for r, u in shown.items()}


def reservations(fast: Fast) -> list[tuple[Any, ...]]:
    return fast.db_rows("SELECT holder, volume_id FROM reservations")


# -- limits: defaults, overrides, who may do what ---------------------------------------
def test_defaults_are_cinders_and_configurable(make_fast):
    assert Settings().quota_defaults == Settings.from_env({}).quota_defaults == \
        {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS}
    fast = make_fast(**CINDER)
    assert fast.svc.quotas.show(fast.who, "p1", "p1") == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS}
    other = with_quotas(make_fast, quota_volumes=3, quota_gigabytes=-1, quota_snapshots=0, quota_groups=2)
    # ... and, as Cinder's, each volume type's per-type keys, unlimited unless the default class sets them
    assert other.svc.quotas.defaults(other.who, "p1", "p1") == \
        {"volumes": 3, "gigabytes": -1, "snapshots": 0, **OTHERS, "groups": 2,
         "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1, "snapshots___DEFAULT__": -1}


def test_settings_read_the_quota_environment():
    s = Settings.from_env({"VOLCLONE_QUOTA_VOLUMES": "4", "VOLCLONE_QUOTA_GIGABYTES": "-1",
                           "VOLCLONE_QUOTA_SNAPSHOTS": "0", "VOLCLONE_QUOTA_RESERVATION_EXPIRE": "30",
                           "VOLCLONE_QUOTA_BACKUPS": "1", "VOLCLONE_QUOTA_BACKUP_GIGABYTES": "2",
                           "VOLCLONE_QUOTA_GROUPS": "3", "VOLCLONE_QUOTA_PER_VOLUME_GIGABYTES": "4"})
    assert s.quota_defaults == {"volumes": 4, "gigabytes": -1, "snapshots": 0, "backups": 1, "backup_gigabytes": 2,
                                "groups": 3, "per_volume_gigabytes": 4}
    assert s.quota_reservation_expire_s == 30
    with pytest.raises(ValueError, match="VOLCLONE_QUOTA_VOLUMES"):
        Settings.from_env({"VOLCLONE_QUOTA_VOLUMES": "-2"})
    with pytest.raises(ValueError, match="VOLCLONE_QUOTA_PER_VOLUME_GIGABYTES"):
        Settings.from_env({"VOLCLONE_QUOTA_PER_VOLUME_GIGABYTES": "-3"})


def test_admin_updates_and_deletes_back_to_defaults(fast):
    q = fast.svc.quotas
    assert q.update(fast.admin, "admin", "p1", {"volumes": 2, "gigabytes": -1, "backups": 0}) == \
        {"volumes": 2, "gigabytes": -1, "snapshots": 10, **OTHERS, "backups": 0}
    assert q.show(fast.who, "p1", "p1") == {"volumes": 2, "gigabytes": -1, "snapshots": 10, **OTHERS, "backups": 0}
    assert q.show(fast.admin, "admin", "p2") == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS}
    q.delete(fast.admin, "admin", "p1")
    assert q.show(fast.who, "p1", "p1") == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS}


def test_a_project_token_reads_its_own_quotas_only_and_changes_none(fast):
    q, policy = fast.svc.quotas, fast.svc.policy
    with pytest.raises(Forbidden):
        q.show(fast.who, "p1", "p2")
    with pytest.raises(Forbidden):
        q.show_usage(fast.who, "p1", "p2")
    with pytest.raises(Forbidden):
        q.defaults(fast.who, "p1", "p2")
    # Changes, and another project's URL, are the policy's to refuse (the API checks it first).
    for rule in ("volume_extension:quotas:update", "volume_extension:quotas:delete"):
        with pytest.raises(Forbidden, match=rule):
            policy.authorize(rule, fast.who, "p1")
        policy.authorize(rule, fast.admin, "p1")
    with pytest.raises(Forbidden, match="volume_extension:quotas:show"):
        policy.authorize("volume_extension:quotas:show", fast.who, "p2")
    assert q.show(fast.who, "p1", "p1")["volumes"] == 10


@pytest.mark.parametrize("values", [{"volumes": -2}, {"gigabytes": 0x80000000}, {"backups": -2},
                                    {"volumes_gold": 1}])
def test_bad_values_are_refused_and_change_nothing(fast, values):
    with pytest.raises(BadRequest):
        fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes": 5, **values})
    assert fast.svc.quotas.show(fast.who, "p1", "p1")["volumes"] == 10


def test_an_update_below_usage_is_refused_as_cinder_refuses_it(fast):
    fast.volume(size=3)
    fast.volume(size=3)
    with pytest.raises(BadRequest, match="Current usage is 2 and the requested limit is 1"):
        fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes": 1})
    with pytest.raises(BadRequest, match="gigabytes"):
        fast.svc.quotas.update(fast.admin, "admin", "p1", {"gigabytes": 5})
    assert fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes": 2, "gigabytes": 6})["volumes"] == 2
    assert fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes": -1})["volumes"] == -1


def test_limits_are_cinders_absolute_limits(fast):
    fast.volume(size=4)
    assert fast.svc.quotas.absolute_limits(fast.who, "p1") == {
        "maxTotalVolumes": 10, "maxTotalVolumeGigabytes": 1000, "maxTotalSnapshots": 10,
        "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
        "totalVolumesUsed": 1, "totalGigabytesUsed": 4, "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}


def test_per_volume_gigabytes_caps_each_volume_of_a_create_a_clone_and_an_extend(make_fast):
    fast = with_quotas(make_fast, quota_per_volume_gigabytes=3)
    small, big = fast.volume(size=3), fast.volume(size=2)
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.volume(size=4)
    assert exc.value.message == ("VolumeSizeExceedsLimit: Requested volume size 4G is larger than maximum "
                                 "allowed limit 3G.")
    with pytest.raises(OverLimit, match="size 4G is larger than maximum allowed limit 3G"):
        fast.svc.volumes.extend(fast.who, "p1", big.id, 4)
    assert fast.get(big.id).size == 2
    fast.svc.volumes.extend(fast.who, "p1", big.id, 3)  # up to the limit
    # An admin lowers it: what exists stays (it is no usage), new clones of a bigger volume are refused.
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"per_volume_gigabytes": 2})
    with fast.creates_nothing(), pytest.raises(OverLimit, match="size 3G is larger than maximum allowed limit 2G"):
        fast.clone([small.id])
    assert usage(fast)["per_volume_gigabytes"] == (2, 0, 0) and reservations(fast) == []


# -- volume create -----------------------------------------------------------------------
def test_volume_create_over_the_volumes_quota_is_413_naming_it_and_makes_nothing(make_fast):
    fast = with_quotas(make_fast, quota_volumes=2)
    fast.volume()
    fast.volume()
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.volume()
    assert exc.value.status == 413 and exc.value.fault == "overLimit"
    assert exc.value.message == ("VolumeLimitExceeded: Maximum number of volumes allowed (2) exceeded for "
                                 "quota 'volumes'.")
    assert usage(fast)["volumes"] == (2, 2, 0) and reservations(fast) == []


def test_volume_create_over_the_gigabytes_quota_names_gigabytes(make_fast):
    fast = with_quotas(make_fast, quota_gigabytes=10)
    fast.volume(size=8)
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.volume(size=3)
    assert exc.value.message == ("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                                 "gigabytes quota. Requested 3G, quota is 10G and 8G has been consumed.")
    fast.volume(size=2)  # exactly up to the limit
    assert usage(fast)["gigabytes"] == (10, 10, 0)


def test_unlimited_and_zero(make_fast):
    fast = with_quotas(make_fast, quota_volumes=-1, quota_gigabytes=0)
    with pytest.raises(OverLimit, match="gigabytes"):
        fast.volume()
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"gigabytes": -1})
    for _ in range(12):  # past Cinder's default of 10
        fast.volume()
    assert usage(fast)["volumes"] == (-1, 12, 0)


def test_a_delete_frees_its_quota(make_fast):
    fast = with_quotas(make_fast, quota_volumes=1)
    vol = fast.volume(size=5)
    with pytest.raises(OverLimit):
        fast.volume()
    fast.svc.volumes.delete(fast.who, "p1", vol.id)
    assert usage(fast)["volumes"] == (1, 0, 0) and usage(fast)["gigabytes"][1:] == (0, 0)
    fast.volume()


def test_a_volume_whose_create_failed_leaves_nothing_and_frees_its_quota(make_fast):
    """A create the backend refuses leaves no row (the hardening issue's full-disk defect), so
    it holds no quota either: neither a volume nor a reservation counts."""
    fast = with_quotas(make_fast, quota_volumes=1)

    def broken(volume_id: str, size: int) -> None:
        raise RuntimeError("the pool is broken")

    real = fast.mem.create_volume
    fast.mem.create_volume = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        fast.volume()
    assert usage(fast)["volumes"] == (1, 0, 0) and reservations(fast) == []
    fast.mem.create_volume = real  # type: ignore[method-assign]
    fast.volume()  # the one volume the quota allows


def test_concurrent_creates_never_pass_the_quota_and_end_exact(make_fast):
    fast = with_quotas(make_fast, quota_volumes=5, quota_gigabytes=-1)
    made, refused, other = [], [], []
    start = threading.Barrier(12)

    def create() -> None:
        start.wait()
        try:
            made.append(fast.volume(size=2).id)
        except OverLimit:
            refused.append(1)
        except VolcloneError as exc:  # pragma: no cover - reported by the assert below
            other.append(exc)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(made), len(refused), other) == (5, 7, [])
    assert usage(fast)["volumes"] == (5, 5, 0) and usage(fast)["gigabytes"][1:] == (10, 0)
    assert len(fast.volume_ids()) == 5 and reservations(fast) == []


# -- clone-volumes -----------------------------------------------------------------------
def test_a_clone_over_the_volumes_quota_is_413_and_creates_nothing(make_fast):
    fast = with_quotas(make_fast, quota_volumes=3)
    a, b = fast.volume(), fast.volume()
    with fast.creates_nothing(), pytest.raises(OverLimit, match="quota 'volumes'") as exc:
        fast.clone([a.id, b.id])
    assert exc.value.status == 413
    assert reservations(fast) == [] and usage(fast)["volumes"] == (3, 2, 0)
    task_id = fast.clone([a.id])  # one clone fits: held (reserved) until its clone step adds it (in use)
    assert sum(usage(fast)["volumes"][1:]) == 3
    assert fast.wait(task_id).flow_state.value == "SUCCESS"
    assert usage(fast)["volumes"] == (3, 3, 0)


def test_a_clone_over_the_gigabytes_quota_names_gigabytes(make_fast):
    fast = with_quotas(make_fast, quota_gigabytes=12)
    a = fast.volume(size=7)
    with fast.creates_nothing(), pytest.raises(OverLimit, match="Requested 7G, quota is 12G and 7G has been"):
        fast.clone([a.id])


def test_a_successful_clone_counts_its_clones_and_holds_nothing(fast):
    a, b = fast.volume(size=2), fast.volume(size=3)
    assert fast.wait(fast.clone([a.id, b.id])).flow_state.value == "SUCCESS"
    assert usage(fast)["volumes"] == (10, 4, 0) and usage(fast)["gigabytes"] == (1000, 10, 0)
    assert reservations(fast) == []


@pytest.mark.parametrize("failpoint", [Step.CREATE_SRC_GROUP.prefix, Step.CREATE_GROUP_CLONE.prefix,
                                       Step.SET_CLONES_AVAILABLE.prefix])
def test_a_reverted_clone_frees_what_it_reserved(make_fast, failpoint):
    """Before its clone step (the reservation is rolled back) and after it (the clones go)."""
    fast = with_quotas(make_fast, quota_volumes=4, failpoints=(failpoint,))
    a, b = fast.volume(size=2), fast.volume(size=3)
    assert fast.wait(fast.clone([a.id, b.id])).flow_state.value == "REVERTED"
    assert usage(fast)["volumes"] == (4, 2, 0) and usage(fast)["gigabytes"] == (1000, 5, 0)
    assert reservations(fast) == []
    ok = fast.restart(failpoints=())
    assert ok.wait(ok.clone([a.id, b.id])).flow_state.value == "SUCCESS"  # the freed quota is usable
    assert usage(ok)["volumes"] == (4, 4, 0)


def test_concurrent_clones_never_pass_the_quota(make_fast):
    fast = with_quotas(make_fast, quota_volumes=7, quota_gigabytes=-1)
    a, b = fast.volume(), fast.volume()
    started, refused = [], []
    start = threading.Barrier(6)

    def clone() -> None:
        start.wait()
        try:
            started.append(fast.clone([a.id, b.id]))
        except OverLimit:
            refused.append(1)

    threads = [threading.Thread(target=clone) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 2 sources + 2 clones per task, 7 at most: two tasks fit, the rest are refused.
    assert (len(started), len(refused)) == (2, 4)
    for task_id in started:
        assert fast.wait(task_id).flow_state.value == "SUCCESS"
    assert usage(fast)["volumes"] == (7, 6, 0) and len(fast.volume_ids()) == 6 and reservations(fast) == []


# -- reservations ----------------------------------------------------------------------------
def test_a_reservation_counts_until_its_volume_exists_then_the_volume_does(fast):
    q = fast.svc.quotas
    q.reserve("p1", "holder-1", [("vol-x", 4)])
    assert usage(fast)["volumes"] == (10, 0, 1) and usage(fast)["gigabytes"] == (1000, 0, 4)
    limits = q.absolute_limits(fast.who, "p1")
    assert limits["totalVolumesUsed"] == 0  # Cinder's totals are what is in use
    q.release("holder-1")
    assert usage(fast)["volumes"] == (10, 0, 0)


def test_expired_reservations_do_not_count(make_fast):
    """A request that died after reserving holds its quota until the reservation expires."""
    fast = with_quotas(make_fast, quota_volumes=2, quota_reservation_expire_s=600)
    now = [utcnow()]
    fast.svc.quotas.clock = lambda: now[0]
    fast.svc.quotas.reserve("p1", "crashed-request", [("never-made-1", 1), ("never-made-2", 1)])
    with pytest.raises(OverLimit):
        fast.volume()
    now[0] += dt.timedelta(seconds=601)
    assert usage(fast)["volumes"] == (2, 0, 0)
    fast.volume()
    fast.volume()
    assert reservations(fast) == []  # the expired ones were purged by the next reservation
    assert usage(fast)["volumes"] == (2, 2, 0)


def test_quotas_are_per_project(make_fast):
    fast = with_quotas(make_fast, quota_volumes=1)
    fast.volume(project="p1")
    fast.volume(project="p2")
    with pytest.raises(OverLimit):
        fast.volume(project="p2")
    assert usage(fast, "p2")["volumes"] == (1, 1, 0)
    p3 = fast.svc.volumes.create(Principal("p3"), "p3", 1)
    with pytest.raises(OverLimit):
        fast.svc.clones.start(Principal("p3"), CloneRequest("p3", [p3.id]))
