"""Quotas, as Cinder shapes them: per-project limits on ``volumes``, ``gigabytes`` and
``snapshots`` (and Cinder's others: ``per_volume_gigabytes``, the largest volume, enforced too;
``groups``; ``backups`` and ``backup_gigabytes``, kept and shown though volclone serves no
backups), defaults from the configuration, overrides by an admin, and the reservation a volume
create or a clone takes before it makes anything::

    quotas.reserve("p1", holder=task_id, volumes=[(clone_id, 10, type_id), ...])  # 413, or held
    ...                                                                    # the volume rows are added
    quotas.release(task_id)                                               # commit (or roll back)

A limit of -1 is unlimited. Usage is the project's volume rows plus the live reservations of
volumes not made yet (``volclone.db.quotas``), so deletes and reverts free quota by removing rows,
and a reservation a crashed request left stops counting when it expires. A snapshot is checked
against ``snapshots`` and ``gigabytes`` and recorded under the same lock (:meth:`QuotaService.add_snapshot`).

Per volume type, as Cinder's ``VolumeTypeResource``: ``volumes_<type>``, ``gigabytes_<type>`` and
``snapshots_<type>`` (by the type's name, so a type's rename renames them and its delete drops
them; -1 unless an admin or the ``default`` class sets them)
limit what the project has *of that type*, and every check above checks the type's limits of
the volume too (a clone: its target type; a snapshot: its volume's type), in the same 413 shapes
naming the per-type key. A retype holds the new type's ``volumes_<type>`` and ``gigabytes_<type>``
(:meth:`QuotaService.reserve_retype`) until the row has the new type, when the old one's usage
drops, as Cinder moves it. A volume's snapshots count in its type, so they move with it (Cinder
keeps a snapshot's own type; volclone's snapshots have none), and are checked against the new type.
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
#: The resources a project (and a quota class) also has once per volume type (``volumes_<type>``, ...).
PER_TYPE = ("volumes", "gigabytes", "snapshots")


def type_keys(name: str) -> list[str]:
    """The per-type quota resources of the type called ``name``: ``volumes_<name>``, ..."""
    return [f"{r}_{name}" for r in PER_TYPE]


def renamed_type_keys(old: str, new: str) -> dict[str, str]:
    """What a type's rename from ``old`` to ``new`` renames its quota resources to (Cinder's
    ``update_quota_resource``): ``volumes_<old>`` -> ``volumes_<new>``, ..."""
    return dict(zip(type_keys(old), type_keys(new), strict=True))


#: A volume to reserve quota for: (volume id, GiB, the type id it will have, or None).
Reserved = tuple[str, int, str | None]


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


def _check_gigabytes(limits: Mapping[str, int], usage: Mapping[str, Usage], key: str, size: int) -> None:
    """``size`` more GiB within ``key`` (``gigabytes`` or ``gigabytes_<type>``), or 413."""
    limit, used = limits.get(key, UNLIMITED), usage.get(key, Usage())
    if _over(limit, used, size):
        raise OverLimit(f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                        f"{key} quota. Requested {size}G, quota is {limit}G and "
                        f"{used.in_use + used.reserved}G has been consumed.")


def _check_count(limits: Mapping[str, int], usage: Mapping[str, Usage], key: str, count: int) -> None:
    """``count`` more volumes or snapshots within ``key`` (``volumes``, ``snapshots_<type>``, ...), or 413."""
    limit = limits.get(key, UNLIMITED)
    if _over(limit, usage.get(key, Usage()), count):
        if key.startswith("snapshots"):
            raise OverLimit(f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({limit}) exceeded "
                            f"for quota '{key}'.")
        raise OverLimit(f"VolumeLimitExceeded: Maximum number of volumes allowed ({limit}) exceeded for quota "
                        f"'{key}'.")


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
                 types: Callable[[Principal | None], Mapping[str, str]] | None = None) -> None:
        self.repo = repo
        #: The configured defaults (``VOLCLONE_QUOTA_<NAME>``); the ``default`` class's limits win.
        self._defaults = {**DEFAULT_QUOTAS, **(defaults or {})}
        #: The volume types, id -> name, for the per-type keys (``volumes_<type name>``, ...).
        self.types = types
        self.reservation_expire = dt.timedelta(seconds=reservation_expire_s)
        self.clock = clock

    # -- who may see what (the API checked the policy rule of each operation) ------------
    @staticmethod
    def _may_show(who: Principal, project_id: str, target: str) -> None:
        if not who.is_admin and target != who.project_id:
            raise Forbidden(f"the token may only show the quotas of its own project, not of {target}")

    def _type_map(self, who: Principal | None = None) -> dict[str, str]:
        """The volume types, id -> name: every one, or (``who``) those ``who`` may see; a quota set
        a user reads names no private type of another project."""
        return dict(self.types(who)) if self.types is not None else {}

    def _limits(self, overrides: Mapping[str, int], class_defaults: Mapping[str, int],
                keys: Sequence[str] | None = None) -> dict[str, int]:
        """Every key's limit: the project's override, else the ``default`` class's, else the
        configured default (a per-type key: -1, unlimited)."""
        return {k: overrides.get(k, class_defaults.get(k, self._defaults.get(k, UNLIMITED)))
                for k in (self.keys() if keys is None else keys)}

    def keys(self, names: Collection[str] | None = None) -> list[str]:
        """Every resource of a quota set or class: Cinder's seven, then ``volumes_<type>``,
        ``gigabytes_<type>`` and ``snapshots_<type>`` of each volume type."""
        names = self._type_map().values() if names is None else names
        return [*RESOURCES, *(k for name in sorted(names) for k in type_keys(name))]

    @staticmethod
    def _named(usage: Mapping[str, Usage], by_type: Mapping[tuple[str, str], Usage],
               names: Mapping[str, str]) -> dict[str, Usage]:
        """The project-wide usage and, keyed ``<resource>_<type name>``, each known type's."""
        return {**usage, **{f"{r}_{names[t]}": u for (r, t), u in by_type.items() if t in names}}

    def _usage(self, project_id: str, names: Mapping[str, str]) -> dict[str, Usage]:
        now = self.clock()
        return self._named(self.repo.usage(project_id, now), self.repo.type_usage(project_id, now), names)

    def default_limits(self, class_defaults: Mapping[str, int] | None = None,
                       who: Principal | None = None) -> dict[str, int]:
        """What a project without limits of its own has: the ``default`` class's limits over the
        configured ones; a per-type key the class does not set is -1 (unlimited), as in Cinder.
        ``who``: only the per-type keys of the types it may see."""
        set_ = self.repo.class_defaults() if class_defaults is None else class_defaults
        return {k: set_.get(k, self._defaults.get(k, UNLIMITED)) for k in self.keys(self._type_map(who).values())}

    @staticmethod
    def _with_usage(limits: Mapping[str, int], usage: Mapping[str, Usage]) -> dict[str, QuotaUsage]:
        return {r: QuotaUsage(limits[r], usage.get(r, Usage()).in_use, usage.get(r, Usage()).reserved)
                for r in limits}

    # -- os-quota-sets -------------------------------------------------------------
    def defaults(self, who: Principal, project_id: str, target: str) -> dict[str, int]:
        self._may_show(who, project_id, target)
        return self.default_limits(who=who)

    def show(self, who: Principal, project_id: str, target: str) -> dict[str, int]:
        self._may_show(who, project_id, target)
        return self._limits(self.repo.overrides(target), self.repo.class_defaults(),
                            self.keys(self._type_map(who).values()))

    def show_usage(self, who: Principal, project_id: str, target: str) -> dict[str, QuotaUsage]:
        self._may_show(who, project_id, target)
        names = self._type_map(who)
        limits = self._limits(self.repo.overrides(target), self.repo.class_defaults(), self.keys(names.values()))
        return self._with_usage(limits, self._usage(target, names))

    def update(self, who: Principal, project_id: str, target: str, values: Mapping[str, int]) -> dict[str, int]:
        """Set the target's limits (admins only). A limit below what the project uses and holds
        now is refused (400), as Cinder refuses it; checked under the quota lock, so no
        reservation slips in between. A per-type key (``volumes_<type>``, ...) must name an
        existing type, and is checked against what the project has of that type."""
        names = self._type_map()
        keys = self.keys(names.values())
        bad = sorted(k for k in values if k not in keys)
        if bad:
            raise BadRequest(f"Bad key(s) in quota set: {', '.join(bad)}")
        for resource, value in values.items():
            if value < UNLIMITED or value > MAX_LIMIT:
                raise BadRequest(f"quota {resource} must be -1 (unlimited) or from 0 to {MAX_LIMIT}, not {value}")
        with self.repo.locked(target, self.clock()) as q:
            usage = self._named(q.usage(), q.type_usage(), names)
            for resource, value in values.items():
                used = usage.get(resource, Usage())
                if resource == PER_VOLUME:  # a size, not a count: nothing uses it up (Cinder's skip)
                    continue
                if value != UNLIMITED and value < used.in_use + used.reserved:
                    raise BadRequest(f"Quota {resource} limit must be equal or greater than existing resources. "
                                     f"Current usage is {used.in_use + used.reserved} and the requested limit is "
                                     f"{value}.")
            q.set_overrides(dict(values))
            return self._limits(q.overrides(), q.class_defaults(), keys)

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
        quotas = self._with_usage(self._limits(self.repo.overrides(project_id), self.repo.class_defaults(),
                                               RESOURCES),
                                  self.repo.usage(project_id, self.clock()))
        return {"maxTotalVolumes": quotas["volumes"].limit, "maxTotalSnapshots": quotas["snapshots"].limit,
                "maxTotalVolumeGigabytes": quotas["gigabytes"].limit,
                "maxTotalBackups": quotas["backups"].limit, "maxTotalBackupGigabytes": quotas["backup_gigabytes"].limit,
                "totalVolumesUsed": quotas["volumes"].in_use, "totalSnapshotsUsed": quotas["snapshots"].in_use,
                "totalGigabytesUsed": quotas["gigabytes"].in_use,
                "totalBackupsUsed": quotas["backups"].in_use,
                "totalBackupGigabytesUsed": quotas["backup_gigabytes"].in_use}

    # -- reserve, commit, roll back ------------------------------------------------------
    def reserve(self, project_id: str, holder: str, volumes: Sequence[Reserved]) -> None:
        """Hold quota for ``volumes`` ((volume id, GiB, type id), not made yet) under ``holder``,
        or raise :class:`OverLimit` (413) naming the resource, holding nothing."""
        names, now = self._type_map(), self.clock()
        with self.repo.locked(project_id, now) as q:
            usage = self._named(q.usage(), q.type_usage(), names)
            self._fits(self._limits(q.overrides(), q.class_defaults(), self.keys(names.values())), usage,
                       volumes, names)
            q.reserve(holder, volumes, now + self.reservation_expire)

    def check(self, project_id: str, volumes: Sequence[Reserved]) -> None:
        """What :meth:`reserve` checks, holding nothing (a dry run): the same :class:`OverLimit`
        for the same usage. Without the lock: a request made meanwhile may change the answer."""
        names = self._type_map()
        self._fits(self._limits(self.repo.overrides(project_id), self.repo.class_defaults(),
                                self.keys(names.values())),
                   self._usage(project_id, names), volumes, names)

    @staticmethod
    def _fits(limits: Mapping[str, int], usage: Mapping[str, Usage], volumes: Sequence[Reserved],
              names: Mapping[str, str]) -> None:
        """The project-wide ``gigabytes`` and ``volumes``, then each type's (Cinder's order)."""
        for _, one, _ in volumes:
            _check_per_volume(limits, one)
        _check_gigabytes(limits, usage, "gigabytes", sum(s for _, s, _ in volumes))
        _check_count(limits, usage, "volumes", len(volumes))
        for type_id in sorted({t for _, _, t in volumes if t is not None and t in names}):
            of_type = [s for _, s, t in volumes if t == type_id]
            _check_gigabytes(limits, usage, f"gigabytes_{names[type_id]}", sum(of_type))
            _check_count(limits, usage, f"volumes_{names[type_id]}", len(of_type))

    def reserve_retype(self, project_id: str, holder: str, volume_id: str, size: int, type_id: str) -> None:
        """A retype's hold on the new type: its ``gigabytes_<type>`` (the volume's GiB and its
        snapshots', which move with it), ``volumes_<type>`` and ``snapshots_<type>``, or 413 and
        nothing held. Held until :meth:`release`; once the row has the new type the reservation
        stops counting and the volume counts there instead (and no longer in the old type)."""
        names, now = self._type_map(), self.clock()
        with self.repo.locked(project_id, now) as q:
            limits = self._limits(q.overrides(), q.class_defaults(), self.keys(names.values()))
            usage = self._named(q.usage(), q.type_usage(), names)
            count, snap_gib = q.snapshots_of(volume_id)
            name = names.get(type_id)
            if name is not None:
                _check_gigabytes(limits, usage, f"gigabytes_{name}", size + snap_gib)
                _check_count(limits, usage, f"volumes_{name}", 1)
                if count:
                    _check_count(limits, usage, f"snapshots_{name}", count)
            q.reserve(holder, [(volume_id, size + snap_gib, type_id)], now + self.reservation_expire)

    def add_snapshot(self, snapshot: Snapshot) -> None:
        """Check that one more snapshot of ``snapshot.volume_size`` GiB fits the project's
        ``snapshots`` and ``gigabytes`` (:class:`OverLimit`, 413, nothing recorded), and record it,
        under the quota lock: it counts from then on."""
        names, now = self._type_map(), self.clock()
        with self.repo.locked(snapshot.project_id, now) as q:
            limits = self._limits(q.overrides(), q.class_defaults(), self.keys(names.values()))
            usage = self._named(q.usage(), q.type_usage(), names)
            _check_gigabytes(limits, usage, "gigabytes", snapshot.volume_size)
            _check_count(limits, usage, "snapshots", 1)
            name = names.get(q.volume_type_of(snapshot.volume_id) or "")
            if name is not None:  # and the volume's type's (``snapshots_<type>``, ``gigabytes_<type>``)
                _check_gigabytes(limits, usage, f"gigabytes_{name}", snapshot.volume_size)
                _check_count(limits, usage, f"snapshots_{name}", 1)
            q.add_snapshot(snapshot)

    def take_transfer(self, project_id: str, transfer_id: str, volume: Volume,
                      snapshots: Sequence[Snapshot], user_id: str | None = None) -> bool:
        """A transfer's accept: under ``project_id``'s quota lock, check that one more volume of
        ``volume.size`` GiB and ``snapshots`` (their GiB too) fit its ``volumes``, ``gigabytes``
        and ``snapshots``, and those of the volume's type (:class:`OverLimit`, 413, and nothing
        changes), then give it the volume
        and the snapshots; whether the volume was still awaiting its transfer. The donor's usage
        drops in the same commit (usage is read from the rows)."""
        names, now = self._type_map(), self.clock()
        with self.repo.locked(project_id, now) as q:
            limits = self._limits(q.overrides(), q.class_defaults(), self.keys(names.values()))
            usage = self._named(q.usage(), q.type_usage(), names)
            size = volume.size + sum(s.volume_size for s in snapshots)
            self._fits(limits, usage, [(volume.id, size, volume.volume_type_id)], names)
            if snapshots:
                _check_count(limits, usage, "snapshots", len(snapshots))
                if volume.volume_type_id in names:
                    _check_count(limits, usage, f"snapshots_{names[volume.volume_type_id]}", len(snapshots))
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
        ``gigabytes`` and its type's ``gigabytes_<type>`` (:class:`OverLimit`, 413, and nothing
        changes), then set the volume to ``size``
        and ``status`` if it is in ``only_from`` now; whether it was. The bigger size counts at
        once, as Cinder's reservation would, and the lock keeps creates from slipping in between."""
        names, now = self._type_map(), self.clock()
        with self.repo.locked(project_id, now) as q:
            limits = self._limits(q.overrides(), q.class_defaults(), self.keys(names.values()))
            _check_per_volume(limits, size)
            usage = self._named(q.usage(), q.type_usage(), names)
            _check_gigabytes(limits, usage, "gigabytes", by)
            name = names.get(q.volume_type_of(volume_id) or "")
            if name is not None:
                _check_gigabytes(limits, usage, f"gigabytes_{name}", by)
            return q.grow_volume(volume_id, size, status, only_from)

    def release(self, holder: str) -> None:
        """Commit (the volumes exist now and count themselves) or roll back (they never will):
        either way the holder's reservations go. Releasing twice is harmless."""
        self.repo.release(holder)
