"""The reaper: volumes a dead process left in a transitional status are cleaned up on their own,
with no admin call (Cinder needs ``cinder reset-state`` or a restart of the very service that
died; volclone's workers and API processes come and go).

    reaper = Reaper(volumes, backends, attachments, served={"local"}, stale_after_s=120,
                    try_lock=locks.try_lock)        # None: one process, no cluster lock
    reaper.run_once()                               # how many volumes it fixed (and expired user
                                                    # messages go: ``messages``)
    reaper.start()                                  # once now, then every stale_after_s / 2
    reaper.stop()

A volume is the reaper's only when all of these hold:

* its backend is one this process serves (``served``), and is up;
* its status is one of the table's, and nothing changed it for ``stale_after_s`` seconds
  (``updated_at``; ``VOLCLONE_STALE_AFTER_S``, 120 by default): every step of a use case writes
  the row, and none waits that long on its backend between two writes;
* ``try_lock(f"volume-{id}")`` gives the lock (a live worker working on the volume holds it;
  ``volclone serve`` passes its own :class:`~volclone.service.locks.LocalLocks`, which its
  creates and deletes hold, so a backend call of its own slower than ``stale_after_s`` is left
  alone; None: no lock at all);
* no clone flow uses it: it is not a grouped source (``groups.grouped``), and it is not a
  ``creating`` clone of a clone task (the flow, resumed or reverted, owns its clones; what a
  revert leaves is the leftover retry's);
* it has no snapshots, unless it is ``creating`` (a cascading delete that died between its
  snapshots left them to an admin: nothing a snapshot holds is deleted behind anyone's back).

What it does, by status (an operator who knows Cinder will recognise the ``deleting`` row;
``creating`` differs on purpose, see below):

=================  ============================================  ==========================================
status             left by                                       the reaper
=================  ============================================  ==========================================
``creating``       a create whose process died after recording   claims it (``deleting``), releases the
                   the volume, before the driver's create        create's quota reservation, deletes what
                   returned                                      the backend holds, removes the row: as if
                                                                 the create had failed
``deleting``       a delete whose process died after its claim   attachments recorded (the delete died
                                                                 before it saw them): status from them
                                                                 again; else the driver's delete, then the
                                                                 row
``error_deleting`` a delete whose backend call failed            retried as ``deleting`` (it stays
                                                                 ``error_deleting`` while it fails)
``reserved``,      a change of attachments whose process died    status recomputed from the attachment
``attaching``                                                    rows; no attachment is removed
``retyping``       a migration (``os-retype`` onto another       finished or undone, as the row's backend
                   backend) whose process died                   says (``volclone.service.retype.recover``)
=================  ============================================  ==========================================

A backend delete that fails leaves ``error_deleting`` (as Cinder marks it); the next run whose
volume is stale again retries it, so retries come ``stale_after_s`` apart.

Why a stuck ``creating`` volume goes instead of becoming ``error`` (Cinder's cleanup makes it
``error``): volclone's create answers only once the driver's create returned, and a create whose
driver fails removes its row (``VolumeService.create``), so no caller was ever told this volume
exists. The driver's create is all or nothing and ``delete_volume`` is idempotent, so removing
leaves nothing behind, and a volume never ``available`` holds no data (nothing can attach or
write a ``creating`` volume). An ``error`` row would hold the project's quota until someone
deletes it: the admin call this module is there to avoid. Each reaped volume is logged at
WARNING with its project.

Why attachments are never removed: a ``reserved`` attachment without a connector is how Nova
keeps the volume of a shelved-offloaded server, for as long as it likes; only its consumer ends it.

Status changes are compare-and-set: a claim is one conditional UPDATE that needs the status and
the staleness the reaper read (:meth:`Volumes.set_status` with ``only_from`` and
``older_than``), and it sets ``updated_at``. A late worker that wrote the row meanwhile makes
the claim fail; a second reaper finds the row fresh. The late worker's own last step is
conditional too (a create becomes ``available`` only from ``creating``), so it and the reaper
never both act.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager

from volclone.backends.base import VolumeDriver
from volclone.db.quotas import Quotas
from volclone.db.repos import Attachments, CloneTasks, Groups, Volumes
from volclone.db.schema import utcnow
from volclone.db.snapshots import Snapshots
from volclone.domain import Volume, VolumeStatus, attached_status
from volclone.errors import VolcloneError
from volclone.service import retype
from volclone.service.locks import volume_lock
from volclone.service.messages import MessageService
from volclone.service.periodic import Periodic
from volclone.service.volumes import Backends

log = logging.getLogger(__name__)

#: The statuses the reaper looks at.
TRANSITIONAL = frozenset({VolumeStatus.CREATING, VolumeStatus.DELETING, VolumeStatus.ERROR_DELETING,
                          VolumeStatus.RESERVED, VolumeStatus.ATTACHING, VolumeStatus.RETYPING})
_DELETING = frozenset({VolumeStatus.DELETING})
_ATTACH_PENDING = frozenset({VolumeStatus.RESERVED, VolumeStatus.ATTACHING})
#: Bounds of the interval between two runs (seconds).
INTERVAL_BOUNDS = (0.1, 3600.0)

#: ``try_lock(name)``: a held lock to enter (and leave when done), or None when someone else holds it.
TryLock = Callable[[str], AbstractContextManager[object] | None]


class Reaper:
    def __init__(self, volumes: Volumes, backends: Backends, attachments: Attachments, served: Collection[str],
                 stale_after_s: float, try_lock: TryLock | None = None, *,
                 groups: Groups | None = None, clone_tasks: CloneTasks | None = None,
                 quotas: Quotas | None = None, snapshots: Snapshots | None = None,
                 messages: MessageService | None = None) -> None:
        self.volumes = volumes
        #: User messages past their guaranteed_until are deleted at each run.
        self.messages = messages
        self.backends = backends
        self.attachments = attachments
        self.served = frozenset(served)
        self.stale_after = dt.timedelta(seconds=stale_after_s)
        self.try_lock = try_lock
        # The rest lives in the same database; given only to share repositories.
        self.groups = groups or Groups(volumes.db)
        self.clone_tasks = clone_tasks or CloneTasks(volumes.db)
        self.quotas = quotas or Quotas(volumes.db)
        self.snapshots = snapshots or Snapshots(volumes.db)
        low, high = INTERVAL_BOUNDS
        self.periodic = Periodic("volume-reaper", self.run_once, min(high, max(low, stale_after_s / 2)))
        self._run_lock = threading.Lock()

    # -- one pass ----------------------------------------------------------------
    def run_once(self) -> int:
        """Clean up every stale volume of the served backends once; returns how many were fixed
        (removed, deleted, or given their status back). A volume that fails is logged and left
        for the next run; the others go on."""
        with self._run_lock:
            if self.messages is not None:
                gone = self.messages.reap()
                if gone:
                    log.info("%d user messages past their guaranteed_until were deleted", gone)
            cutoff = utcnow() - self.stale_after
            fixed = 0
            for vol in self.volumes.stale(self.served, TRANSITIONAL, cutoff):
                if self.periodic.stopping:  # the service stops: the rest waits for the next start
                    break
                try:
                    fixed += self._reap(vol, cutoff)
                except Exception:
                    log.exception("reaping volume %s (%s) failed; tried again at the next run", vol.id,
                                  vol.status.value)
            return fixed

    def _reap(self, vol: Volume, cutoff: dt.datetime) -> bool:
        if vol.status in _ATTACH_PENDING and attached_status(vol.attachments) is vol.status:
            # What its attachments say (the usual case: a consumer has yet to complete or end
            # them, e.g. Nova's shelved-offloaded servers): no lock taken, nothing to do.
            return False
        lock = self.try_lock(volume_lock(vol.id)) if self.try_lock is not None else contextlib.nullcontext()
        if lock is None:
            log.debug("volume %s is %s and locked: a live worker has it", vol.id, vol.status.value)
            return False
        with lock:
            if self.groups.grouped(vol.id):
                return False  # a clone flow's source: the flow (or its leftover retry) releases it
            if vol.status in _ATTACH_PENDING:
                return self._resync(vol)
            if vol.status is VolumeStatus.RETYPING:
                return self._end_migration(vol)
            if vol.status is VolumeStatus.CREATING and self.clone_tasks.mention(vol.id):
                return False  # a clone being made: its flow resumes or reverts it
            if vol.status is not VolumeStatus.CREATING and self.snapshots.count_of_volume(vol.id):
                # A cascading delete that died between its snapshots: they (and the data they
                # hold) are the admin's to look at (os-reset_status, then delete again).
                log.warning("volume %s (project %s) is %s and still has snapshots; left as it is",
                            vol.id, vol.project_id, vol.status.value)
                return False
            try:
                driver = self.backends.get(vol.backend)
            except VolcloneError as exc:  # unavailable: the next start finds it up, or not
                log.debug("volume %s is %s; left as it is: %s", vol.id, vol.status.value, exc.message)
                return False
            return self._delete(vol, driver, cutoff)

    def _end_migration(self, vol: Volume) -> bool:
        ended = retype.recover(self.backends, self.volumes, vol)
        if ended is None:
            return False
        log.warning("volume %s (project %s) was left retyping for %s: its migration is %s (backend %s)",
                    vol.id, vol.project_id, self._age(vol), "finished" if ended.migration_status == "success"
                    else "undone", ended.backend)
        return True

    def _resync(self, vol: Volume) -> bool:
        if not self.attachments.sync_status(vol.id):
            return False
        log.warning("volume %s was %s for %s with attachments that say otherwise; its status follows "
                    "them again", vol.id, vol.status.value, self._age(vol))
        return True

    def _delete(self, vol: Volume, driver: VolumeDriver, cutoff: dt.datetime) -> bool:
        """Claim the volume for its delete (CAS), then finish it as ``VolumeService.delete`` would."""
        if not self.volumes.set_status([vol.id], VolumeStatus.DELETING, only_from=frozenset({vol.status}),
                                       older_than=cutoff):
            return False  # changed since it was read: a late worker (or another reaper) has it
        if vol.status is VolumeStatus.CREATING:
            # Before the row goes: once it is gone a reservation left by the dead create would
            # count again, until it expired.
            self.quotas.release(vol.id)
        elif self.attachments.list(volume_id=vol.id):
            # The dead delete claimed the volume before it looked for attachments.
            self.attachments.sync_status(vol.id, also_from=_DELETING)
            log.warning("volume %s was left deleting while attached, %s ago; its status follows its "
                        "attachments again", vol.id, self._age(vol))
            return True
        try:
            driver.delete_volume(vol.id)
        except Exception as exc:
            reason = exc.message if isinstance(exc, VolcloneError) else repr(exc)
            self.volumes.set_status([vol.id], VolumeStatus.ERROR_DELETING, only_from=_DELETING)
            log.warning("volume %s (project %s), %s for %s: its backend delete failed; it is %s and "
                        "retried: %s", vol.id, vol.project_id, vol.status.value, self._age(vol),
                        VolumeStatus.ERROR_DELETING.value, reason)
            return False
        self.volumes.delete(vol.id)
        what = "its create never finished" if vol.status is VolumeStatus.CREATING else "its delete is finished"
        log.warning("volume %s (project %s) was %s for %s: removed, %s", vol.id, vol.project_id,
                    vol.status.value, self._age(vol), what)
        return True

    @staticmethod
    def _age(vol: Volume) -> str:
        if vol.updated_at is None:
            return "long"
        return f"{(utcnow() - vol.updated_at).total_seconds():.0f} s"

    # -- in the background ------------------------------------------------------------
    def start(self) -> None:
        """Run once now (a start after a crash finds what the crash left), then every
        ``periodic.interval`` seconds in the background."""
        try:
            fixed = self.run_once()
            if fixed:
                log.warning("%d volumes left in a transitional state were cleaned up", fixed)
        except Exception:
            log.exception("reaping volumes left in a transitional state failed")
        self.periodic.start()

    def stop(self) -> None:
        self.periodic.stop()
