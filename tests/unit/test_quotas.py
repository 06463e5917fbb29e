"""Quotas on the whole in-process service: limits, 413s naming the resource with nothing made,
exact usage under concurrent creates and clones, and usage freed by deletes, reverts and expiry."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest

from volclone.config import Settings
from volclone.db.schema import utcnow
from volclone.domain import CloneRequest, Principal
from volclone.errors import BadRequest, Forbidden, OverLimit, VolcloneError
from volclone.flows.model import Step

from .conftest import Fast
from .migrations import check_added_column

#: Cinder's defaults, which the service has when nothing is configured (the fast services of the
#: other tests have no quotas).
CINDER = {"quota_volumes": 10, "quota_gigabytes": 1000, "quota_snapshots": 10}
#: Cinder's defaults of the resources the fast services leave as they are.
OTHERS = {"backups": 10, "backup_gigabytes": 1000, "groups": 10, "per_volume_gigabytes": -1}
#: The per-type keys of the one type the fast services have, unlimited unless set (Cinder's).
TYPES = {"volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1, "snapshots___DEFAULT__": -1}


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
    assert fast.svc.quotas.show(fast.who, "p1", "p1") == \
        {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS, **TYPES}
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
        {"volumes": 2, "gigabytes": -1, "snapshots": 10, **OTHERS, "backups": 0, **TYPES}
    assert q.show(fast.who, "p1", "p1") == \
        {"volumes": 2, "gigabytes": -1, "snapshots": 10, **OTHERS, "backups": 0, **TYPES}
    assert q.show(fast.admin, "admin", "p2") == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS, **TYPES}
    q.delete(fast.admin, "admin", "p1")
    assert q.show(fast.who, "p1", "p1") == {"volumes": 10, "gigabytes": 1000, "snapshots": 10, **OTHERS, **TYPES}


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
    q.reserve("p1", "holder-1", [("vol-x", 4, None)])
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
    fast.svc.quotas.reserve("p1", "crashed-request", [("never-made-1", 1, None), ("never-made-2", 1, None)])
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


# -- per volume type: volumes_<type>, gigabytes_<type>, snapshots_<type> ------------------------
def _gold(fast: Fast, **limits: int) -> str:
    """A type ``gold`` on the default backend, with ``limits`` (``volumes_gold``, ...) set for p1."""
    gold = fast.svc.types.create(fast.admin, "gold", extra_specs={"volume_backend_name": "local"})
    if limits:
        fast.svc.quotas.update(fast.admin, "admin", "p1", limits)
    return gold.id


def test_per_type_keys_are_shown_for_every_type_and_updated_as_cinders(fast):
    q = fast.svc.quotas
    _gold(fast)
    shown = q.show(fast.who, "p1", "p1")
    assert {k: shown[k] for k in ("volumes_gold", "gigabytes_gold", "snapshots_gold")} == \
        {"volumes_gold": -1, "gigabytes_gold": -1, "snapshots_gold": -1}  # -1 unless set, as Cinder's
    assert q.update(fast.admin, "admin", "p1", {"volumes_gold": 2, "gigabytes_gold": 5})["volumes_gold"] == 2
    for bad, says in (({"volumes_silver": 1}, "Bad key(s) in quota set: volumes_silver"),
                      ({"snapshots_gold": -2}, "snapshots_gold"), ({"gigabytes_gold": 2**31}, "gigabytes_gold")):
        with pytest.raises(BadRequest, match=re.escape(says)):
            q.update(fast.admin, "admin", "p1", {"volumes": 3, **bad})
    assert q.show(fast.admin, "admin", "p1")["volumes"] == 10  # nothing of a refused update was set
    fast.volume(size=2, volume_type="gold")
    fast.volume(size=1, volume_type="gold")
    fast.volume(size=4)
    with pytest.raises(BadRequest, match="Quota volumes_gold limit must be equal or greater than existing "
                                         "resources. Current usage is 2 and the requested limit is 1."):
        q.update(fast.admin, "admin", "p1", {"volumes_gold": 1})
    with pytest.raises(BadRequest, match="Current usage is 3 and the requested limit is 2"):
        q.update(fast.admin, "admin", "p1", {"gigabytes_gold": 2})
    assert q.show(fast.who, "p1", "p1")["volumes_gold"] == 2
    used = usage(fast)
    assert (used["volumes_gold"], used["gigabytes_gold"], used["snapshots_gold"]) == ((2, 2, 0), (5, 3, 0), (-1, 0, 0))
    assert used["volumes___DEFAULT__"] == (-1, 1, 0) and used["volumes"] == (10, 3, 0)
    assert q.show(fast.admin, "admin", "p2")["volumes_gold"] == -1  # per project
    q.delete(fast.admin, "admin", "p1")
    assert q.show(fast.who, "p1", "p1")["volumes_gold"] == -1


def test_a_create_over_its_types_volumes_limit_is_413_and_other_types_are_not_limited(fast):
    _gold(fast, volumes_gold=1)
    fast.volume(volume_type="gold")
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.volume(volume_type="gold")
    assert str(exc.value) == "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota " \
                             "'volumes_gold'."
    assert reservations(fast) == []
    fast.volume()  # the default type's volumes_<type> is -1: unlimited
    fast.volume()
    assert usage(fast)["volumes_gold"] == (1, 1, 0) and usage(fast)["volumes___DEFAULT__"] == (-1, 2, 0)


def test_a_create_over_its_types_gigabytes_names_gigabytes_of_the_type(fast):
    _gold(fast, gigabytes_gold=3)
    fast.volume(size=2, volume_type="gold")
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.volume(size=2, volume_type="gold")
    assert str(exc.value) == "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed " \
                             "gigabytes_gold quota. Requested 2G, quota is 3G and 2G has been consumed."
    fast.volume(size=1, volume_type="gold")  # exactly up to the limit
    fast.volume(size=50)


def test_a_reservation_counts_in_its_type_until_its_volume_exists(fast):
    gold = _gold(fast, volumes_gold=1)
    fast.svc.quotas.reserve("p1", "holder-1", [("vol-x", 4, gold)])
    assert usage(fast)["volumes_gold"] == (1, 0, 1) and usage(fast)["gigabytes_gold"] == (-1, 0, 4)
    with fast.creates_nothing(), pytest.raises(OverLimit, match="'volumes_gold'"):
        fast.volume(volume_type="gold")
    fast.svc.quotas.release("holder-1")
    fast.volume(volume_type="gold")


def test_a_create_from_a_snapshot_checks_its_type(fast):
    _gold(fast)
    vol = fast.volume(size=2, volume_type="gold")
    snap = fast.svc.snapshots.create(fast.who, "p1", vol.id)
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes_gold": 1})
    with fast.creates_nothing(), pytest.raises(OverLimit, match="'volumes_gold'"):
        fast.volume(size=2, volume_type="gold", snapshot_id=snap.id)
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes_gold": 2})
    made = fast.volume(size=2, volume_type="gold", snapshot_id=snap.id)
    assert made.snapshot_id == snap.id and usage(fast)["volumes_gold"] == (2, 2, 0)


def test_a_create_from_a_source_volume_checks_its_type(fast):
    _gold(fast, volumes_gold=1)
    source = fast.volume(size=2, volume_type="gold")
    with fast.creates_nothing(), pytest.raises(OverLimit) as exc:
        fast.svc.clones.create_volume(fast.who, "p1", source.id, None)
    assert str(exc.value).endswith("exceeded for quota 'volumes_gold'.")
    assert reservations(fast) == []
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes_gold": 2})
    fast.svc.clones.create_volume(fast.who, "p1", source.id, None)
    assert usage(fast)["volumes_gold"] == (2, 2, 0)


def test_clone_volumes_count_against_their_target_type(fast):
    gold = _gold(fast)
    a, b = fast.volume(size=1, volume_type="gold"), fast.volume(size=1, volume_type="gold")
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes_gold": 3})
    with fast.creates_nothing(), pytest.raises(OverLimit, match="'volumes_gold'"):
        fast.clone([a.id, b.id])
    default = fast.get(fast.volume().id).volume_type_id
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes___DEFAULT__": 2})
    with fast.creates_nothing(), pytest.raises(OverLimit, match="'volumes___DEFAULT__'"):
        fast.clone([a.id, b.id], target_type_id=default)  # 1 + 2 of the default type
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes___DEFAULT__": 3})
    assert fast.wait(fast.clone([a.id, b.id], target_type_id=default)).flow_state.value == "SUCCESS"
    assert usage(fast)["volumes_gold"] == (3, 2, 0) and usage(fast)["volumes___DEFAULT__"] == (3, 3, 0)
    assert gold != default and reservations(fast) == []


def test_an_extend_over_its_types_gigabytes_is_413_and_changes_nothing(fast):
    _gold(fast, gigabytes_gold=3)
    vol, other = fast.volume(size=2, volume_type="gold"), fast.volume(size=2)
    with pytest.raises(OverLimit) as exc:
        fast.svc.volumes.extend(fast.who, "p1", vol.id, 4)
    assert "allowed gigabytes_gold quota. Requested 2G, quota is 3G and 2G has been consumed." in str(exc.value)
    assert (fast.get(vol.id).size, fast.get(vol.id).status.value) == (2, "available")
    fast.svc.volumes.extend(fast.who, "p1", vol.id, 3)
    fast.svc.volumes.extend(fast.who, "p1", other.id, 10)
    assert usage(fast)["gigabytes_gold"] == (3, 3, 0)


def test_a_retype_moves_the_volume_to_the_new_types_limits(fast):
    from volclone.service.retype import Retyper

    _gold(fast, volumes_gold=1, gigabytes_gold=5)
    fast.volume(size=1, volume_type="gold")
    vol = fast.volume(size=3)
    old_type = vol.volume_type_id
    retyper = Retyper(fast.svc.volumes)
    with pytest.raises(OverLimit, match=re.escape("Maximum number of volumes allowed (1) exceeded for quota "
                                                  "'volumes_gold'.")):
        retyper.retype(fast.who, "p1", vol.id, "gold")
    assert fast.get(vol.id).volume_type_id == old_type and reservations(fast) == []
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"volumes_gold": 2, "gigabytes_gold": 3})
    with pytest.raises(OverLimit, match="allowed gigabytes_gold quota. Requested 3G, quota is 3G and 1G"):
        retyper.retype(fast.who, "p1", vol.id, "gold")
    assert fast.get(vol.id).volume_type_id == old_type
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"gigabytes_gold": 4})
    retyper.retype(fast.who, "p1", vol.id, "gold")
    used = usage(fast)
    assert (used["volumes_gold"], used["gigabytes_gold"]) == ((2, 2, 0), (4, 4, 0))
    assert (used["volumes___DEFAULT__"], used["gigabytes___DEFAULT__"]) == ((-1, 0, 0), (-1, 0, 0))
    assert used["volumes"] == (10, 2, 0) and reservations(fast) == []


def test_a_snapshot_checks_its_volumes_type(fast):
    _gold(fast, snapshots_gold=1)
    vol, other = fast.volume(size=2, volume_type="gold"), fast.volume(size=2)
    fast.svc.snapshots.create(fast.who, "p1", vol.id)
    before = fast.db_rows("SELECT id FROM snapshots ORDER BY id")
    with pytest.raises(OverLimit) as exc:
        fast.svc.snapshots.create(fast.who, "p1", vol.id)
    assert str(exc.value) == "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded for quota " \
                             "'snapshots_gold'."
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"snapshots_gold": -1, "gigabytes_gold": 4})
    with pytest.raises(OverLimit, match="allowed gigabytes_gold quota. Requested 2G, quota is 4G and 4G"):
        fast.svc.snapshots.create(fast.who, "p1", vol.id)
    assert fast.db_rows("SELECT id FROM snapshots ORDER BY id") == before
    fast.svc.snapshots.create(fast.who, "p1", other.id)  # another type: not limited
    used = usage(fast)
    assert (used["snapshots_gold"], used["gigabytes_gold"], used["snapshots___DEFAULT__"]) == \
        ((-1, 1, 0), (4, 4, 0), (-1, 1, 0))


def test_a_transfer_accept_checks_the_accepting_projects_type_limits(fast):
    _gold(fast)
    vol = fast.volume(size=2, volume_type="gold")
    transfer, key = fast.svc.transfers.create(fast.who, "p1", vol.id)
    taker = Principal("p2", roles=fast.who.roles)
    fast.svc.quotas.update(fast.admin, "admin", "p2", {"volumes_gold": 0})
    with pytest.raises(OverLimit, match="'volumes_gold'"):
        fast.svc.transfers.accept(taker, "p2", transfer.id, key)
    assert (fast.get(vol.id).project_id, fast.get(vol.id).status.value) == ("p1", "awaiting-transfer")
    fast.svc.quotas.update(fast.admin, "admin", "p2", {"volumes_gold": 1, "gigabytes_gold": 1})
    with pytest.raises(OverLimit, match="allowed gigabytes_gold quota"):
        fast.svc.transfers.accept(taker, "p2", transfer.id, key)
    fast.svc.quotas.update(fast.admin, "admin", "p2", {"gigabytes_gold": -1})
    fast.svc.transfers.accept(taker, "p2", transfer.id, key)
    assert usage(fast, "p2")["volumes_gold"] == (1, 1, 0) and usage(fast)["volumes_gold"] == (-1, 0, 0)


def test_migration_0024_adds_the_reservations_type_and_downgrades(tmp_path):
    check_added_column(tmp_path, "0024", "0023", "reservations", "volume_type_id")


def test_a_retype_moves_the_volumes_snapshots_too_and_checks_them_in_the_new_type(fast):
    """volclone's snapshots count in their volume's type (Cinder's keep a type of their own)."""
    from volclone.service.retype import Retyper

    _gold(fast, snapshots_gold=1)
    vol = fast.volume(size=2)
    fast.svc.snapshots.create(fast.who, "p1", vol.id)
    fast.svc.snapshots.create(fast.who, "p1", vol.id)
    with pytest.raises(OverLimit, match=re.escape("Maximum number of snapshots allowed (1) exceeded for quota "
                                                  "'snapshots_gold'.")):
        Retyper(fast.svc.volumes).retype(fast.who, "p1", vol.id, "gold")
    assert fast.get(vol.id).volume_type_id != fast.svc.types.find("gold", fast.admin).id
    fast.svc.quotas.update(fast.admin, "admin", "p1", {"snapshots_gold": 2})
    Retyper(fast.svc.volumes).retype(fast.who, "p1", vol.id, "gold")
    used = usage(fast)
    assert (used["snapshots_gold"], used["gigabytes_gold"], used["snapshots___DEFAULT__"]) == \
        ((2, 2, 0), (-1, 6, 0), (-1, 0, 0))
    assert reservations(fast) == []


def test_a_users_quota_set_names_only_the_types_it_may_see(fast):
    """A private type's keys go to admins and to the projects it is granted to, never to others:
    its name would leak through the quota set (as ``GET /types`` keeps it from them)."""
    q = fast.svc.quotas
    secret = fast.svc.types.create(fast.admin, "secret", is_public=False)
    keys = ("volumes_secret", "gigabytes_secret", "snapshots_secret")
    member_sees = [q.show(fast.who, "p1", "p1"), q.defaults(fast.who, "p1", "p1"), q.show_usage(fast.who, "p1", "p1")]
    assert not any(k in shown for shown in member_sees for k in keys)
    assert all(k in q.show(fast.admin, "admin", "p1") for k in keys)
    assert all(k in q.show_usage(fast.admin, "admin", "p1") for k in keys)
    fast.svc.types.add_access(fast.admin, secret.id, "p1")
    assert all(k in q.show(fast.who, "p1", "p1") for k in keys)


def test_a_types_rename_takes_its_limits_along_and_its_delete_drops_them(fast):
    """As Cinder's ``update_quota_resource``: ``volumes_gold`` becomes ``volumes_platinum`` for
    every project and class, still enforced; a delete leaves nothing a new type of the old name
    would inherit."""
    assert fast.svc.quota_classes is not None
    gold = _gold(fast, volumes_gold=1, gigabytes_gold=7)
    fast.svc.quota_classes.update("default", {"snapshots_gold": 3})
    fast.volume(volume_type="gold")
    # A limit left under the new name (by a type of that name deleted before deletes dropped
    # them) gives way to the renamed one instead of failing the rename on the key.
    fast.db_execute("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)",
                    "p1", "volumes_platinum", 99)
    fast.svc.types.update(fast.admin, gold, name="platinum")
    shown = fast.svc.quotas.show(fast.admin, "admin", "p1")
    assert not any(k.endswith("_gold") for k in shown)
    assert (shown["volumes_platinum"], shown["gigabytes_platinum"], shown["snapshots_platinum"]) == (1, 7, 3)
    assert usage(fast)["volumes_platinum"] == (1, 1, 0)
    with fast.creates_nothing(), pytest.raises(OverLimit, match="'volumes_platinum'"):
        fast.volume(volume_type="platinum")
    fast.svc.types.update(fast.admin, gold, description="same name")  # no rename: nothing moves
    assert fast.svc.quotas.show(fast.admin, "admin", "p1")["volumes_platinum"] == 1
    fast.svc.volumes.delete(fast.who, "p1", fast.svc.volumes.list(fast.who, "p1")[0].id)
    fast.svc.types.delete(fast.admin, gold)
    for table in ("quotas", "quota_classes"):
        assert fast.db_rows(f"SELECT resource FROM {table} WHERE resource LIKE ?", "%platinum") == []
    again = fast.svc.types.create(fast.admin, "platinum")
    assert fast.svc.quotas.show(fast.admin, "admin", "p1")["volumes_platinum"] == -1
    fast.svc.types.update(fast.admin, again.id, name="gold")
    assert fast.svc.quotas.show(fast.admin, "admin", "p1")["volumes_gold"] == -1
