"""The command-line clients (``openstack``, ``cinder``, ``volclone``), each run as a process of its
own, forked from one that has imported them already.

``openstack`` spends about 2 of its 2.5 s importing openstackclient, openstacksdk and their
plugins, and ``volclone``'s admin commands 2 s importing the service; the tests run them a few
hundred times. Here one server process per test process imports them once, and every run forks it: the
child takes the run's environment, its stdin is ``/dev/null``, its stdout and stderr go to files,
and it calls the same ``main()`` the ``openstack``, ``cinder`` and ``volclone`` scripts call. So each run is
still a new process of the real client, with its exit code and its output, started in about
0.5 s::

    done = run(["/venv/bin/openstack", "--os-token", t, "volume", "list"], env, timeout=120)
    done.returncode, done.stdout, done.stderr      # as subprocess.run(..., capture_output=True, text=True)

Any other program runs through :func:`subprocess.run`.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

#: The programs served by forking, and the module whose ``main()`` each one's script calls.
MAINS = {"openstack": "openstackclient.shell", "cinder": "cinderclient.shell", "volclone": "volclone.cli"}
#: Imported before the first fork as well: what every volume command loads (their plugins), and
#: what volclone's admin commands load (the service, its database and migrations).
WARM = ("openstackclient.volume.client", "openstackclient.volume.v3.volume", "openstackclient.volume.v2.volume",
        "openstack.block_storage.v3._proxy", "cinderclient.v3.client", "keystoneauth1.loading._plugins.admin_token",
        "volclone.bootstrap", "volclone.cli.commands", "alembic.command")


class _Forker:
    """The server process of one test process, and the lock its one request at a time takes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[str] | None = None

    def _server(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
            self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, env=env)
            atexit.register(self.proc.kill)
        return self.proc

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
        with tempfile.TemporaryDirectory() as tmp, self.lock:
            out, err = Path(tmp) / "out", Path(tmp) / "err"
            proc = self._server()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps({"argv": argv, "env": env, "out": str(out), "err": str(err),
                                         "timeout": timeout}) + "\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
            if not answer:
                raise RuntimeError(f"the forking server of {argv[0]} died (rc {proc.wait()})")
            rc = json.loads(answer)["rc"]
            stdout, stderr = out.read_text(), err.read_text()
        if rc is None:
            raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
        return subprocess.CompletedProcess(argv, rc, stdout, stderr)


_FORKER = _Forker()


def run(argv: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (stdin ``/dev/null``, output captured as text) in ``env``."""
    if Path(argv[0]).name in MAINS:
        return _FORKER.run(argv, env, timeout)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


# -- the server: python tests/forked_cli.py ---------------------------------------------------
def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the run asked for, then exit with its code (never returns)."""
    code: Any = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["out"], os.O_WRONLY | os.O_CREAT),
                                (2, request["err"], os.O_WRONLY | os.O_CREAT)):
            os.dup2(os.open(path, flags, 0o600), fd)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - the child's for its whole life
        sys.argv = list(request["argv"])
        code = importlib.import_module(MAINS[Path(sys.argv[0]).name]).main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - what an uncaught error does to a script: a traceback, rc 1
        traceback.print_exc()
        code = 1
    finally:
        if isinstance(code, str):
            print(code, file=sys.stderr)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _wait(pid: int, timeout: float) -> int | None:
    """The child's exit code (a signal's: minus its number), or None once it ran out of time (killed)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.01)


def _serve(requests: IO[str], answers: IO[str]) -> None:
    for name in (*MAINS.values(), *WARM):
        importlib.import_module(name)
    for line in requests:
        request = json.loads(line)
        answers.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        answers.write(json.dumps({"rc": _wait(pid, float(request["timeout"]))}) + "\n")
        answers.flush()


if __name__ == "__main__":
    _serve(sys.stdin, sys.stdout)
