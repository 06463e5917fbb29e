"""Quotas, as Cinder shapes them: per-project limits on ``volumes``, ``gigabytes`` and
``snapshots`` (and Cinder's others: ``per_volume_gigabytes``, the largest volume, enforced too;
``groups``; ``backups`` and ``backup_gigabytes``, kept and shown though volclone serves no
backups), defaults from the configuration, overrides by an admin, and the reservation a volume
create or a clone takes before it makes anything::

    quotas.reserve("p1", holder=task_id, volumes=[(clone_id, 10), ...])  # 413 overLimit, or held
    ...                                                                    # the volume rows are added
    quotas.release(task_id)                                               # commit (or roll back)

A limit of -1 is unlimited. Usage is the project's volume rows plus the live reservations of
volumes not made yet (``volclone.db.quotas``), so deletes and reverts free quota by removing rows,
and a reservation a crashed request left stops counting when it expires. A snapshot is checked
against ``snapshots`` and ``gigabytes`` and recorded under the same lock (:meth:`QuotaService.add_snapshot`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from volclone.config import DEFAULT_QUOTAS, DEFAULT_RESERVATION_EXPIRE_S
from volclone.db.quotas import Quotas, Usage
from volclone.db.schema import utcnow
from volclone.domain import Group, Principal, Snapshot, Volume, VolumeStatus
from volclone.errors import BadRequest, Forbidden, OverLimit

#: The resources, in the order Cinder lists them.
RESOURCES = tuple(DEFAULT_QUOTAS)
UNLIMITED = -1
#: The one limit on each volume's size rather than on a total.
PER_VOLUME = "per_volume_gigabytes"
#: The largest limit (Cinder's ``db.MAX_INT``).
MAX_LIMIT = 0x7FFFFFFF
#: The resources a quota class also has once per volume type (``volumes_<type>``, ...). Kept and
#: shown, not enforced: volclone enforces the project-wide limits only (docs/quota-classes.md).
PER_TYPE = ("volumes", "gigabytes", "snapshots")


@dataclass(frozen=True)
class QuotaUsage:
    """One resource of ``os-quota-sets?usage=True``."""

    limit: int
    in_use: int
    reserved: int
    #: Cinder's nested-quota field; always 0 (volclone has no nested projects).
    allocated: int = 0


def _over(limit: int, usage: Usage, delta: int) -> bool:
    return limit != UNLIMITED and usage.in_use + usage.reserved + delta > limit


def _check_per_volume(limits: Mapping[str, int], size: int) -> None:
    """A volume of ``size`` GiB (made, or extended to) within ``per_volume_gigabytes``, or 413."""
    limit = limits[PER_VOLUME]
    if limit != UNLIMITED and size > limit:
        raise OverLimit(f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum allowed "
                        f"limit {limit}G.")


class QuotaService:
    def __init__(self, repo: Quotas, defaults: Mapping[str, int] | None = None,
                 reservation_expire_s: float = DEFAULT_RESERVATION_EXPIRE_S,
                 clock: Callable[[], dt.datetime] = utcnow,
                 type_names: Callable[[], Sequence[str]] | None = None) -> None:
        self.repo = repo
        #: The configured defaults (``VOLCLONE_QUOTA_<NAME>``); the ``default`` class's limits win.
        self._defaults = {**DEFAULT_QUOTAS, **(defaults or {})}
        #: The volume types' names, for the per-type keys of the defaults (``volumes_<type>``, ...).
        self.type_names = type_names
        self.reservation_expire = dt.timedelta(seconds=reservation_expire_s)
        self.clock = clock

    # -- who may see what (the API checked the policy rule of each operation) ------------
    @staticmethod
    def _may_show(who: Principal, project_id: str, target: str) -> None:
        if not who.is_admin and target != who.project_id:
            raise Forbidden(f"the token may only show the quotas of its own project, not of {target}")

    def _limits(self, overrides: Mapping[str, int], class_defaults: Mapping[str, int]) -> dict[str, int]:
        return {r: overrides.get(r, class_defaults.get(r, self._defaults[r])) for r in RESOURCES}

    def keys(self) -> list[str]:
        """Every resource of a quota class: Cinder's seven, then ``volumes_<type>``,
        ``gigabytes_<type>`` and ``snapshots_<type>`` of each volume type."""
        names = self.type_names() if self.type_names is not None else ()
        return [*RESOURCES, *(f"{r}_{name}" for name in sorted(names) for r in PER_TYPE)]

    def default_limits(self, class_defaults: Mapping[str, int] | None = None) -> dict[str, int]:
        """What a project without limits of its own has: the ``default`` class's limits over the
        configured ones; a per-type key the class does not set is -1 (unlimited), as in Cinder."""
        set_ = self.repo.class_defaults() if class_defaults is None else class_defaults
        return {k: set_.get(k, self._defaults.get(k, UNLIMITED)) for k in self.keys()}

    @staticmethod
    def _with_usage(limits: Mapping[str, int], usage: Mapping[str, Usage]) -> dict[str, QuotaUsage]:
        return {r: QuotaUsage(limits[r], usage.get(r, Usage()).in_use, usage.get(r, Usage()).reserved)
                for r in RESOURCES}

    # -- os-quota-sets -------------------------------------------------------------
    def defaults(self, who: Principal, project_id: str, target: str) -> dict[str, int]:
        self._may_show(who, project_id, target)
        return self.default_limits()

    def show(self, who: Principal, project_id: str, target: str) -> dict[str, int]:
        self._may_show(who, project_id, target)
        return self._limits(self.repo.overrides(target), self.repo.class_defaults())

    def show_usage(self, who: Principal, project_id: str, target: str) -> dict[str, QuotaUsage]:
        self._may_show(who, project_id, target)
        limits = self._limits(self.repo.overrides(target), self.repo.class_defaults())
        return self._with_usage(limits, self.repo.usage(target, self.clock()))

    def update(self, who: Principal, project_id: str, target: str, values: Mapping[str, int]) -> dict[str, int]:
        """Set the target's limits (admins only). A limit below what the project uses and holds
        now is refused (400), as Cinder refuses it; checked under the quota lock, so no
        reservation slips in between."""
        for resource, value in values.items():
            if resource not in RESOURCES:
                raise BadRequest(f"Bad key(s) in quota set: {resource}")
            if value < UNLIMITED or value > MAX_LIMIT:
                raise BadRequest(f"quota {resource} must be -1 (unlimited) or from 0 to {MAX_LIMIT}, not {value}")
        with self.repo.locked(target, self.clock()) as q:
            usage = q.usage()
            for resource, value in values.items():
                used = usage.get(resource, Usage())
                if resource == PER_VOLUME:  # a size, not a count: nothing uses it up (Cinder's skip)
                    continue
                if value != UNLIMITED and value < used.in_use + used.reserved:
                    raise BadRequest(f"Quota {resource} limit must be equal or greater than existing resources. "
                                     f"Current usage is {used.in_use + used.reserved} and the requested limit is "
                                     f"{value}.")
            q.set_overrides(dict(values))
            return self._limits(q.overrides(), q.class_defaults())

    def delete(self, who: Principal, project_id: str, target: str) -> None:
        """Back to the defaults (admins only)."""
        self.repo.delete_overrides(target)

    # -- /limits ----------------------------------------------------------------------
    def absolute_limits(self, who: Principal, project_id: str, target: str | None = None) -> dict[str, int]:
        """Cinder's ``limits.absolute`` of the project, or of ``target`` (3.39's admin filter; a
        user may name only its own project): its limits and what it uses."""
        if target is not None:
            self._may_show(who, project_id, target)
            project_id = target
        quotas = self._with_usage(self._limits(self.repo.overrides(project_id), self.repo.class_defaults()),
                                  self.repo.usage(project_id, self.clock()))
        return {"maxTotalVolumes": quotas["volumes"].limit, "maxTotalSnapshots": quotas["snapshots"].limit,
                "maxTotalVolumeGigabytes": quotas["gigabytes"].limit,
                "maxTotalBackups": quotas["backups"].limit, "maxTotalBackupGigabytes": quotas["backup_gigabytes"].limit,
                "totalVolumesUsed": quotas["volumes"].in_use, "totalSnapshotsUsed": quotas["snapshots"].in_use,
                "totalGigabytesUsed": quotas["gigabytes"].in_use,
                "totalBackupsUsed": quotas["backups"].in_use,
                "totalBackupGigabytesUsed": quotas["backup_gigabytes"].in_use}

    # -- reserve, commit, roll back ------------------------------------------------------
    def reserve(self, project_id: str, holder: str, volumes: Sequence[tuple[str, int]]) -> None:
        """Hold quota for ``volumes`` ((volume id, GiB), not made yet) under ``holder``, or raise
        :class:`OverLimit` (413) naming the resource, holding nothing."""
        now = self.clock()
        with self.repo.locked(project_id, now) as q:
            self._fits(self._limits(q.overrides(), q.class_defaults()), q.usage(), volumes)
            q.reserve(holder, volumes, now + self.reservation_expire)

    def check(self, project_id: str, volumes: Sequence[tuple[str, int]]) -> None:
        """What :meth:`reserve` checks, holding nothing (a dry run): the same :class:`OverLimit`
        for the same usage. Without the lock: a request made meanwhile may change the answer."""
        self._fits(self._limits(self.repo.overrides(project_id), self.repo.class_defaults()),
                   self.repo.usage(project_id, self.clock()), volumes)

    @staticmethod
    def _fits(limits: Mapping[str, int], usage: Mapping[str, Usage], volumes: Sequence[tuple[str, int]]) -> None:
        for _, one in volumes:
            _check_per_volume(limits, one)
        count, size = len(volumes), sum(s for _, s in volumes)
        gigabytes, used = limits["gigabytes"], usage.get("gigabytes", Usage())
        if _over(gigabytes, used, size):
            raise OverLimit(f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                            f"gigabytes quota. Requested {size}G, quota is {gigabytes}G and "
                            f"{used.in_use + used.reserved}G has been consumed.")
        if _over(limits["volumes"], usage.get("volumes", Usage()), count):
            raise OverLimit(f"VolumeLimitExceeded: Maximum number of volumes allowed ({limits['volumes']}) "
                            "exceeded for quota 'volumes'.")

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """Check that one more snapshot of ``snapshot.volume_size`` GiB fits the project's
        ``snapshots`` and ``gigabytes`` (:class:`OverLimit`, 413, nothing recorded), and record it,
        under the quota lock: it counts from then on."""
        now = self.clock()
        with self.repo.locked(snapshot.project_id, now) as q:
            limits, usage = self._limits(q.overrides(), q.class_defaults()), q.usage()
            gigabytes, used = limits["gigabytes"], usage["gigabytes"]
            if _over(gigabytes, used, snapshot.volume_size):
                raise OverLimit(f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                                f"gigabytes quota. Requested {snapshot.volume_size}G, quota is {gigabytes}G and "
                                f"{used.in_use + used.reserved}G has been consumed.")
            if _over(limits["snapshots"], usage["snapshots"], 1):
                raise OverLimit(f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
                                f"({limits['snapshots']}) exceeded for quota 'snapshots'.")
            q.add_snapshot(snapshot)

    def take_transfer(self, project_id: str, transfer_id: str, volume: Volume,
                      snapshots: Sequence[Snapshot], user_id: str | None = None) -> bool:
        """A transfer's accept: under ``project_id``'s quota lock, check that one more volume of
        ``volume.size`` GiB and ``snapshots`` (their GiB too) fit its ``volumes``, ``gigabytes``
        and ``snapshots`` (:class:`OverLimit`, 413, and nothing changes), then give it the volume
        and the snapshots; whether the volume was still awaiting its transfer. The donor's usage
        drops in the same commit (usage is read from the rows)."""
        now = self.clock()
        with self.repo.locked(project_id, now) as q:
            limits, usage = self._limits(q.overrides(), q.class_defaults()), q.usage()
            self._fits(limits, usage, [(volume.id, volume.size + sum(s.volume_size for s in snapshots))])
            if snapshots and _over(limits["snapshots"], usage["snapshots"], len(snapshots)):
                raise OverLimit(f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
                                f"({limits['snapshots']}) exceeded for quota 'snapshots'.")
            return q.accept_transfer(transfer_id, volume.id, [s.id for s in snapshots], user_id)

    def add_group(self, group: Group) -> None:
        """Check that one more generic group fits the project's ``groups`` quota (:class:`OverLimit`,
        413, nothing recorded) and record it, under the quota lock. The limit is the admin's
        override, else the default; without either, groups are unlimited."""
        with self.repo.locked(group.project_id, self.clock()) as q:
            limit = q.overrides().get("groups", {**self._defaults, **q.class_defaults()}.get("groups", UNLIMITED))
            if _over(limit, Usage(q.count_groups()), 1):
                raise OverLimit(f"GroupLimitExceeded: Maximum number of groups allowed ({limit}) exceeded for "
                                "quota 'groups'.")
            q.add_group(group)

    def grow(self, project_id: str, volume_id: str, by: int, size: int, status: VolumeStatus,
             only_from: Collection[VolumeStatus]) -> bool:
        """An extend's claim: under the quota lock, check that ``by`` more GiB fit the project's
        ``gigabytes`` (:class:`OverLimit`, 413, and nothing changes), then set the volume to ``size``
        and ``status`` if it is in ``only_from`` now; whether it was. The bigger size counts at
        once, as Cinder's reservation would, and the lock keeps creates from slipping in between."""
        now = self.clock()
        with self.repo.locked(project_id, now) as q:
            limits = self._limits(q.overrides(), q.class_defaults())
            _check_per_volume(limits, size)
            gigabytes, used = limits["gigabytes"], q.usage()["gigabytes"]
            if _over(gigabytes, used, by):
                raise OverLimit(f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                                f"gigabytes quota. Requested {by}G, quota is {gigabytes}G and "
                                f"{used.in_use + used.reserved}G has been consumed.")
            return q.grow_volume(volume_id, size, status, only_from)

    def release(self, holder: str) -> None:
        """Commit (the volumes exist now and count themselves) or roll back (they never will):
        either way the holder's reservations go. Releasing twice is harmless."""
        self.repo.release(holder)
