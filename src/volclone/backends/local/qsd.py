"""One supervised qemu-storage-daemon and its QMP connection.

The daemon keeps no state across restarts, so whoever drives it rebuilds what it
needs (see :class:`~volclone.backends.local.driver.LocalDriver`). It runs in a session
of its own and outlives the service: a service that starts while a daemon of its data
directory is alive and answering takes it over (:meth:`StorageDaemon.start` returns
True) instead of starting another one, so NBD clients are not cut off by a service
restart. Its death is seen through a pidfd, whether it is our child or was adopted.
QMP is spoken with
``qemu.qmp`` (the QEMU project's own asyncio client) over ONE long-lived
connection, owned by an event loop on a private thread; :meth:`execute` is the
synchronous, thread-safe door that flows and the API use.

Usage::

    qsd = StorageDaemon(run_dir)
    qsd.start()
    qsd.execute("query-named-block-nodes", flat=True)
    qsd.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qemu.qmp import ExecuteError, QMPClient
from qemu.qmp.error import QMPError

from volclone.errors import BackendError

log = logging.getLogger(__name__)

BINARY = "qemu-storage-daemon"
#: How long one QMP command may take before we call the daemon hung.
COMMAND_TIMEOUT = 60.0
#: How long a daemon left by an earlier run may take to answer QMP before we call it hung.
ADOPT_TIMEOUT = 5.0
#: How long a hung daemon gets to exit after SIGTERM, before SIGKILL.
TERM_GRACE = 5.0


def _exited(pidfd: int, timeout: float = 0) -> bool:
    """Whether the process behind ``pidfd`` has exited (waiting up to ``timeout`` seconds).

    A pidfd turns readable once the process has exited, after the kernel released its
    files and so its pid-file lock: a zombie counts as exited.
    """
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000))))


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


class QMPCommandError(BackendError):
    """The daemon refused a command; ``error_class`` is QEMU's own error class."""

    def __init__(self, command: str, error_class: str, desc: str) -> None:
        super().__init__(f"{command}: {desc}")
        self.command = command
        self.error_class = error_class
        self.desc = desc


class JobCancelled(BackendError):
    """We stopped waiting for a block job and cancelled it (see ``run_job``'s ``give_up``)."""


class _QuietClient(QMPClient):
    """A QMPClient whose default event listener hears nothing.

    qemu.qmp's default listener keeps every event forever (a queue plus a
    history) and can't be removed; a daemon running jobs sends many. volclone
    polls ``query-jobs`` instead of waiting on events. (``_event_dispatch`` is
    the library's hook for this; qemu.qmp is pinned.)
    """

    async def _event_dispatch(self, msg: Any) -> None:
        for listener in self._listeners:
            if listener is not self.events:
                await listener.put(msg)


class StorageDaemon:
    """Starts, watches and talks to one qemu-storage-daemon.

    ``on_restart`` is called (on the caller's thread, with the daemon up) after
    the daemon had died and was started again, so the owner can rebuild nodes.
    """

    def __init__(self, run_dir: Path, on_restart: Callable[[], None] | None = None) -> None:
        self.run_dir = Path(run_dir)
        #: The driver's own monitor. A QMP monitor serves ONE client at a time (a
        #: second one is accepted by the kernel but never greeted), so observers
        #: get a monitor of their own, ``inspect_socket``.
        self.socket = self.run_dir / "volclone.qmp"
        #: A second monitor for operators and tests (``query-named-block-nodes`` etc.).
        self.inspect_socket = self.run_dir / "qsd.qmp"
        self.on_restart = on_restart
        self.pidfile = self.run_dir / "qsd.pid"
        #: The daemon, when we started it (to reap it); None when adopted.
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._pidfd: int | None = None
        self._client: QMPClient | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="qmp", daemon=True)
        self._thread.start()
        self._lock = threading.RLock()
        self._stopping = False
        #: Closed or detached for good: no command restarts a daemon any more.
        self._closed = False
        #: Counts the daemons we started or took over; a watcher watches one of them.
        self._generation = 0
        self.restarts = 0

    # -- lifecycle ---------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._pid

    def alive(self) -> bool:
        return self._pidfd is not None and not _exited(self._pidfd)

    def _forget_process(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(0)
        if self._pidfd is not None:
            os.close(self._pidfd)
        self._proc, self._pid, self._pidfd = None, None, None

    def _left_behind(self) -> tuple[int, int] | None:
        """(pid, pidfd) of a daemon an earlier run of the service left on our socket, if one runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        pidfd = _pidfd(pid)
        if pidfd is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if not cmdline:
            # Exiting (its memory is gone but maybe not yet its files, and so the lock on
            # the pid file): wait until it is gone, or a new daemon can't take the lock.
            _exited(pidfd, TERM_GRACE)
            os.close(pidfd)
            return None
        if BINARY.encode() in cmdline and str(self.socket).encode() in cmdline and not _exited(pidfd):
            return pid, pidfd
        os.close(pidfd)
        return None

    def _stop_stale(self, pid: int, pidfd: int) -> None:
        """Stop a daemon left behind that does not answer, and wait until it is gone."""
        log.warning("stopping a stale qemu-storage-daemon, pid %s", pid)
        try:
            os.kill(pid, signal.SIGTERM)
            if not _exited(pidfd, TERM_GRACE):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                # SIGKILL is delivered, not yet acted on: the process still holds the pid
                # file's lock until it has exited. Wait for that, or the new daemon can't
                # lock the pid file and exits.
                if not _exited(pidfd, TERM_GRACE):
                    raise BackendError(f"a stale {BINARY} (pid {pid}) does not exit")
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    def start(self) -> bool:
        """Have a daemon running and connected; returns True when it is one that was already
        running (left by an earlier run of the service, which the caller must reconcile)."""
        with self._lock:
            if self.alive():
                return False
            self._forget_process()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._stopping = False
            stale = self._left_behind()
            if stale is not None:
                pid, pidfd = stale
                self._pid, self._pidfd = pid, pidfd
                try:
                    self._connect(timeout=ADOPT_TIMEOUT)
                except BackendError as exc:
                    log.warning("the qemu-storage-daemon left running (pid %s) does not answer: %s", pid, exc)
                    self._pid = self._pidfd = None
                    self._stop_stale(pid, pidfd)
                else:
                    self._watch_in_background()
                    log.info("took over the running qemu-storage-daemon, pid %s", pid)
                    return True
            self._spawn()
            return False

    def _spawn(self) -> None:
        self.socket.unlink(missing_ok=True)
        self.inspect_socket.unlink(missing_ok=True)
        log_file = open(self.run_dir / "qsd.log", "ab")
        try:
            self._proc = subprocess.Popen(
                [BINARY,
                 "--chardev", f"socket,id=qmp0,path={self.socket},server=on,wait=off",
                 "--monitor", "chardev=qmp0",
                 "--chardev", f"socket,id=qmp1,path={self.inspect_socket},server=on,wait=off",
                 "--monitor", "chardev=qmp1",
                 "--pidfile", str(self.pidfile)],
                # A session of its own: the daemon outlives the service (and its signals).
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise BackendError(f"{BINARY} is not installed (Debian: qemu-system-common)") from exc
        finally:
            log_file.close()
        self._pid = self._proc.pid
        self._pidfd = os.pidfd_open(self._proc.pid)
        try:
            self._connect()
        except BackendError:
            self._forget_process()
            raise
        self._watch_in_background()
        log.info("qemu-storage-daemon started, pid %s", self._pid)

    def _watch_in_background(self) -> None:
        assert self._pidfd is not None
        self._generation += 1
        # A pidfd of the watcher's own: ours may be closed (and its number reused) meanwhile.
        threading.Thread(target=self._watch, args=(os.dup(self._pidfd), self._proc, self._generation),
                         name="qsd-watch", daemon=True).start()

    def _watch(self, pidfd: int, proc: subprocess.Popen[bytes] | None, generation: int) -> None:
        """Notice the daemon's death as it happens and bring it back (unless we stopped it)."""
        try:
            while not _exited(pidfd, 3600):
                pass
        finally:
            os.close(pidfd)
        code = proc.wait() if proc is not None else "unknown (not our child)"
        if self._stopping or generation != self._generation:
            return
        log.error("qemu-storage-daemon pid %s exited with status %s", self._pid, code)
        try:
            self.ensure_running()
        except Exception:
            log.exception("restarting qemu-storage-daemon failed; the next command tries again")

    def _connect(self, timeout: float = 10) -> None:
        """Connect to the daemon's QMP socket, waiting for it to listen."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise BackendError(f"{BINARY} exited at start; see {self.run_dir / 'qsd.log'}")
            if self.socket.exists():
                client = _QuietClient("volclone")
                try:
                    self._run(client.connect(str(self.socket)), timeout=min(5, max(0.1, timeout)))
                    self._client = client
                    return
                except (QMPError, OSError, TimeoutError) as exc:
                    if time.monotonic() > deadline:
                        raise BackendError(f"cannot connect to {BINARY}: {exc}") from exc
            elif time.monotonic() > deadline:
                raise BackendError(f"{BINARY} did not open its QMP socket")
            time.sleep(0.005)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._disconnect()
            if self._pidfd is not None and not _exited(self._pidfd):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGTERM)
                if not _exited(self._pidfd, TERM_GRACE):
                    with contextlib.suppress(ProcessLookupError):
                        signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                    _exited(self._pidfd, TERM_GRACE)
            self._forget_process()

    def detach(self) -> None:
        """Let go of the daemon and leave it running (it keeps serving its exports); the next
        :meth:`start` in this data directory takes it over. Ends the QMP thread."""
        with self._lock:
            self._stopping = self._closed = True
            self._disconnect()
            if self._pidfd is not None:
                os.close(self._pidfd)
            self._proc, self._pid, self._pidfd = None, None, None
        self._end_loop()

    def close(self) -> None:
        """Stop the daemon and the QMP thread for good."""
        with self._lock:
            self._closed = True
            self.stop()
        self._end_loop()

    def _end_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def kill(self) -> None:
        """SIGKILL the daemon (tests use this to prove recovery)."""
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            _exited(self._pidfd, TERM_GRACE)
            if self._proc is not None:
                self._proc.wait()

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._run(self._client.disconnect(), timeout=5)
            except Exception:  # the daemon may already be gone
                log.debug("QMP disconnect failed", exc_info=True)
            self._client = None

    def ensure_running(self) -> None:
        """Restart the daemon if it died, then let the owner rebuild its graph."""
        with self._lock:
            if self.alive() and self._client is not None:
                return
            if self._closed:  # a late command of a thread that outlived the stop
                raise BackendError(f"{BINARY} was stopped")
            had_run = self._pidfd is not None
            if had_run:
                log.warning("qemu-storage-daemon (pid %s) is gone; restarting", self.pid)
            self._disconnect()
            self._forget_process()
            self.start()
            if had_run:
                self.restarts += 1
        # Outside our lock: the owner's rebuild takes its own lock, which another thread
        # may hold while it waits for a command of ours.
        if had_run and self.on_restart is not None:
            self.on_restart()

    # -- commands ----------------------------------------------------------
    def _run(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            # Or it runs on in the loop: a command nobody waits for any more, whose late
            # reply could be taken for another's.
            future.cancel()
            raise

    def execute(self, command: str, **arguments: Any) -> Any:
        """Run one QMP command and return its ``return`` value.

        Raises :class:`QMPCommandError` when the daemon refuses the command and
        :class:`BackendError` when it cannot be reached.
        """
        self.ensure_running()
        client = self._client
        assert client is not None
        try:
            return self._run(client.execute(command, arguments or None), COMMAND_TIMEOUT)
        # "from None": the library's exceptions carry protocol objects that can't be
        # persisted (TaskFlow stores a failed task's exception and its causes).
        except ExecuteError as exc:
            raise QMPCommandError(command, exc.error_class, exc.error.error.desc) from None
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            raise BackendError(f"qemu-storage-daemon did not answer {command}: {exc}") from None

    def run_job(self, command: str, job_id: str, on_progress: Callable[[int, int], None] | None = None,
                poll: float = 0.005, give_up: Callable[[], bool] | None = None, **arguments: Any) -> None:
        """Start a block job and wait for it to end; a ``ready`` job (active commit) is completed.

        ``on_progress(done, total)`` hears the job's byte counters. Raises
        :class:`QMPCommandError` when the job fails, and :class:`JobCancelled` when
        ``give_up()`` turns true first. The job is dismissed in every case, and
        cancelled first if we stop waiting early.
        """
        self.execute(command, **{"job-id": job_id, "auto-dismiss": False}, **arguments)
        concluded = completing = False
        try:
            while True:
                if give_up is not None and give_up():
                    raise JobCancelled(f"{command} {job_id} cancelled")
                job = self.job(job_id)
                if on_progress is not None:
                    on_progress(int(job["current-progress"]), int(job["total-progress"]))
                if job["status"] == "ready" and not completing:
                    self.execute("job-complete", id=job_id)
                    completing = True
                elif job["status"] == "concluded":
                    concluded = True
                    if job.get("error"):
                        raise QMPCommandError(command, "JobFailed", job["error"])
                    return
                time.sleep(poll)
        finally:
            self._dispose_job(job_id, concluded)

    def job(self, job_id: str) -> dict[str, Any]:
        for job in self.execute("query-jobs"):
            if job["id"] == job_id:
                return job  # type: ignore[no-any-return]
        raise BackendError(f"job {job_id} vanished")

    def dispose_job(self, job_id: str) -> None:
        """Cancel a job if it still runs, then dismiss it; a no-op for a job that is gone."""
        try:
            status = self.job(job_id)["status"]
        except BackendError:
            return
        self._dispose_job(job_id, concluded=status == "concluded")

    def _dispose_job(self, job_id: str, concluded: bool) -> None:
        if not concluded:
            try:
                self.execute("job-cancel", id=job_id)
            except BackendError as exc:  # it was ending meanwhile: it concludes on its own
                log.debug("job %s could not be cancelled (%s); waiting for it to conclude", job_id, exc)
            deadline = time.monotonic() + 30
            try:
                while self.job(job_id)["status"] != "concluded" and time.monotonic() < deadline:
                    time.sleep(0.005)
            except BackendError:  # gone already
                return
        try:
            self.execute("job-dismiss", id=job_id)
        except BackendError as exc:
            log.warning("could not dispose of job %s: %s", job_id, exc)
