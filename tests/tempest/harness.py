"""Tempest's volume API tests against volclone, registered in a real Keystone (docs/tempest.md).

``scripts/tempest`` runs it in ``.venv`` (after ``scripts/setup test`` made ``.venv``,
``.venv-keystone`` and ``.venv-tempest``)::

    .venv/bin/python tests/tempest/harness.py [--summary FILE] [--concurrency N] [REGEX]

It brings up Keystone (``tests/keystone/cloud.py``), a service user for volclone, and volclone's
catalog entries; brings up a one-node Ceph (``scripts/ceph-dev``, :mod:`ceph_backend`) and adds
it as backend ``ceph``; starts ``volclone serve`` with ``VOLCLONE_AUTH=keystone`` on a temporary
data directory (backends ``local`` and ``ceph``: Tempest's ``multi_backend`` tests run; without
Ceph, a loud warning and ``local`` only, ``multi_backend = False``); writes a ``tempest.conf``
whose ``[service_available]`` and ``[volume-feature-enabled]`` flags say what volclone serves,
with the microversion bounds that volclone's ``GET /v3/`` announces; runs ``tempest run --regex
REGEX`` (default ``^tempest\\.api\\.volume``); counts passed, failed and skipped tests from the
subunit stream (``tempest run`` exits 0 even when tests fail); writes a JSON summary and exits 1 if
any test failed or none ran. Everything it started is stopped at exit, also on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:  # run as a script: conftest.py and keystone/ are importable as in pytest
    sys.path.insert(0, str(TESTS))

import httpx  # noqa: E402

from conftest import Server, free_port  # noqa: E402
from keystone.cloud import (  # noqa: E402
    ADMIN_PASSWORD,
    REGION,
    Keystone,
    add_project,
    add_user,
    bring_up,
    register_volclone,
    roles,
)
from tempest.ceph_backend import CephBackend, add_to, ceph_backend  # noqa: E402
from volclone.api.extensions import EXTENSIONS  # noqa: E402
from volclone.service.capabilities import PROTOCOLS, VENDOR  # noqa: E402

REPO = TESTS.parent
TEMPEST_VENV = REPO / ".venv-tempest"
SITE = HERE / "site"  # sitecustomize.py: the images_client work-around (docs/tempest.md)
DEFAULT_REGEX = r"^tempest\.api\.volume"
SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT = "volclone", "volclone-secret", "service"
#: Cinder's default quotas, not the test servers' unlimited ones: Tempest's quota tests read them.
QUOTAS = {"VOLCLONE_QUOTA_VOLUMES": "10", "VOLCLONE_QUOTA_GIGABYTES": "1000", "VOLCLONE_QUOTA_SNAPSHOTS": "10"}

#: What volclone does not serve, switched off through Tempest's own flags (why: docs/tempest.md).
SERVICES_OFF = ("nova", "glance", "neutron", "swift", "horizon")
#: What it serves, said outright (where Tempest's default is True, a changed default can't switch it off).
#: enable_volume_image_dep_tests: of tempest.api.volume, only the cascade delete of a volume whose
#: snapshot has a volume made from it (the image half is skipped with glance).
FEATURES_ON = ("snapshot", "clone", "extend_volume_with_snapshot", "enable_volume_image_dep_tests")
FEATURES_OFF = ("backup", "manage_volume", "manage_snapshot",
                "replication", "extend_attached_volume", "extend_attached_encrypted_volume")
#: True when the second backend (Ceph) is up, with ``[volume] backend_names`` naming both.
MULTI_BACKEND = "multi_backend"
LOCAL_BACKEND = "local"
#: Tempest reads volume_multiattach from [compute-feature-enabled] (also in the volume tests:
#: VolumeRetypeMultiattachTest); with nova off, no compute test runs, so only the volume ones see it.
COMPUTE_FEATURES_ON = ("volume_multiattach",)


def tempest_bin(name: str) -> str:
    path = TEMPEST_VENV / "bin" / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `bash scripts/setup test` (it makes .venv-tempest)")
    return str(path)


def tempest_conf(keystone: Keystone, min_version: str, max_version: str, log_file: Path,
                 backend_names: tuple[str, ...] = (LOCAL_BACKEND,)) -> str:
    """The ``tempest.conf`` for one run; ``backend_names``: volclone's backends, the local one first
    (Tempest's retype-with-migration moves from the first to the second)."""
    services = "\n".join(f"{name} = False" for name in SERVICES_OFF)
    # The aliases volclone's GET /extensions lists (the default, "all", expects Cinder's every one).
    extensions = ", ".join(alias for _, alias, _ in EXTENSIONS)
    features = "\n".join([*(f"{name} = True" for name in FEATURES_ON), *(f"{name} = False" for name in FEATURES_OFF),
                          f"{MULTI_BACKEND} = {len(backend_names) > 1}"])
    compute_features = "\n".join(f"{name} = True" for name in COMPUTE_FEATURES_ON)
    return f"""\
[DEFAULT]
log_file = {log_file}
[auth]
use_dynamic_credentials = True
admin_username = admin
admin_password = {ADMIN_PASSWORD}
admin_project_name = admin
admin_domain_name = Default
create_isolated_networks = False
[identity]
uri_v3 = {keystone.url}
auth_version = v3
region = {REGION}
[identity-feature-enabled]
api_v2 = False
[service_available]
cinder = True
{services}
[validation]
run_validation = False
[volume]
catalog_type = block-storage
endpoint_type = publicURL
min_microversion = {min_version}
max_microversion = {max_version}
build_timeout = 60
vendor_name = {VENDOR}
storage_protocol = {PROTOCOLS["local"]}
backend_names = {",".join(backend_names)}
[volume-feature-enabled]
api_extensions = {extensions}
{features}
[compute-feature-enabled]
{compute_features}
"""


@dataclass
class Summary:
    """What one run counted; ``tests`` maps each test id to its status and reason."""

    regex: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    tests: dict[str, dict[str, str]]
    #: Tempest's test ids that the regex selects (``tempest run --list-tests``).
    listed: list[str]
    #: volclone's backends in the run (``[volume] backend_names``; one: multi_backend was False).
    backends: tuple[str, ...] = (LOCAL_BACKEND,)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.passed > 0

    def per_listed_test(self) -> Counter[str]:
        """Each listed test's outcome, a class set-up's counted for every test of its class (a
        failed or skipped ``setUpClass`` is one result for all of them); ``not run`` if neither."""
        classes = {t.split("(", 1)[1].rstrip(")"): r["status"] for t, r in self.tests.items()
                   if t.startswith("setUpClass (")}
        outcomes: Counter[str] = Counter()
        for test_id in self.listed:
            own = self.tests.get(test_id)
            status = own["status"] if own else classes.get(test_id.split("[", 1)[0].rsplit(".", 1)[0], "not run")
            outcomes[{"success": "passed", "fail": "failed", "skip": "skipped"}.get(status, status)] += 1
        return outcomes

    def as_json(self) -> dict[str, Any]:
        by_status = {s: sorted(t for t, r in self.tests.items() if r["status"] == s) for s in ("fail", "skip")}
        return {"regex": self.regex, "passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                "seconds": round(self.seconds, 1), "listed": len(self.listed), "backends": list(self.backends),
                "per_listed_test": dict(sorted(self.per_listed_test().items())),
                "failed_tests": {t: self.tests[t]["reason"] for t in by_status["fail"]},
                "skipped_tests": {t: self.tests[t]["reason"] for t in by_status["skip"]}}


def count(rows: list[dict[str, str]], regex: str, seconds: float, listed: list[str]) -> Summary:
    """Counts per test id (the last status a test had wins); a class set-up that failed or was
    skipped counts as one test, as stestr counts it."""
    tests = {row["id"]: row for row in rows}
    statuses = Counter(row["status"] for row in tests.values())
    passed = statuses["success"] + statuses["xfail"]
    failed = statuses["fail"] + statuses["uxsuccess"]
    return Summary(regex, passed, failed, statuses["skip"], seconds, tests, listed)


def read_subunit(stream: Path) -> list[dict[str, str]]:
    with open(stream, "rb") as source:
        out = subprocess.run([tempest_bin("python"), str(HERE / "subunit_results.py")], stdin=source,
                             capture_output=True, text=True, check=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@contextmanager
def keystone_with_volclone(base: Path, ceph: CephBackend | None = None) -> Iterator[tuple[Keystone, Server]]:
    """Keystone with volclone's service user and catalog entries, and the keystone-mode server
    (with backend ``ceph`` too, if given)."""
    (base / "keystone").mkdir()
    keystone = bring_up(base / "keystone", threads=1)
    try:
        port = free_port()
        with keystone.admin_client() as admin:
            role_ids = roles(admin, "admin", "member", "reader", "service")
            add_user(admin, SERVICE_USER, SERVICE_PASSWORD, add_project(admin, SERVICE_PROJECT), role_ids["service"])
            register_volclone(admin, port)
        data_dir = base / "volclone"
        data_dir.mkdir()
        server = Server(data_dir, port, env={
            "VOLCLONE_AUTH": "keystone", "VOLCLONE_KEYSTONE_URL": keystone.url,
            "VOLCLONE_KEYSTONE_USER": SERVICE_USER, "VOLCLONE_KEYSTONE_PASSWORD": SERVICE_PASSWORD,
            "VOLCLONE_KEYSTONE_PROJECT": SERVICE_PROJECT, **QUOTAS})
        if ceph is not None:
            add_to(data_dir, ceph)
        server.start()
        try:
            yield keystone, server
        finally:
            server.close()
    finally:
        keystone.stop()


def microversions(server: Server) -> tuple[str, str]:
    """``min_version`` and ``version`` of volclone's v3 version document."""
    doc = httpx.get(f"{server.url}/v3/", timeout=10).json()["versions"][0]
    return str(doc["min_version"]), str(doc["version"])


def list_tests(workspace: Path, regex: str) -> list[str]:
    out = subprocess.run([tempest_bin("tempest"), "run", "--list-tests", "--regex", regex], cwd=workspace,
                         capture_output=True, text=True, check=True, timeout=300)
    return [line.strip() for line in out.stdout.splitlines() if line.startswith("tempest.")]


def run_tempest(workspace: Path, regex: str, concurrency: int) -> Path:
    """``tempest run`` in ``workspace``; returns the subunit stream it wrote."""
    stream = workspace / "results.subunit"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))}
    with open(stream, "wb") as out, open(workspace / "tempest-run.log", "wb") as err:
        proc = subprocess.Popen([tempest_bin("tempest"), "run", "--regex", regex, "--concurrency", str(concurrency),
                                 "--subunit"], cwd=workspace, env=env, stdout=out, stderr=err,
                                start_new_session=True)
        try:
            proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: the whole group (stestr's workers too)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return stream


def run(regex: str = DEFAULT_REGEX, concurrency: int = 2, workdir: Path | None = None,
        with_ceph: bool = True) -> Summary:
    """One Tempest run with everything around it; stopped again before it returns.
    ``with_ceph=False``: the local backend only, no Ceph brought up (``multi_backend = False``)."""
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="volclone-tempest-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        workdir.mkdir(parents=True, exist_ok=True)
        ceph = stack.enter_context(ceph_backend(workdir)) if with_ceph else None
        backends = (LOCAL_BACKEND,) if ceph is None else (LOCAL_BACKEND, ceph.name)
        keystone, server = stack.enter_context(keystone_with_volclone(workdir, ceph))
        workspace = workdir / "workspace"
        subprocess.run([tempest_bin("tempest"), "init", "--workspace-path", str(workdir / "workspace.yaml"),
                        str(workspace)], check=True, capture_output=True, timeout=120)
        low, high = microversions(server)
        (workspace / "etc" / "tempest.conf").write_text(
            tempest_conf(keystone, low, high, workspace / "tempest.log", backends))
        listed = list_tests(workspace, regex)
        started = time.monotonic()
        stream = run_tempest(workspace, regex, concurrency)
        summary = count(read_subunit(stream), regex, time.monotonic() - started, listed)
        summary.backends = backends
        return summary


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("regex", nargs="?", default=DEFAULT_REGEX, help="tests to run (tempest run --regex)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--summary", type=Path, default=Path("tempest-summary.json"), help="JSON summary file")
    parser.add_argument("--workdir", type=Path, help="keep Keystone, volclone and Tempest files here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    summary = run(args.regex, args.concurrency, args.workdir)
    args.summary.write_text(json.dumps(summary.as_json(), indent=2) + "\n")
    for test_id, reason in summary.as_json()["failed_tests"].items():
        print(f"FAILED {test_id}: {reason}")
    if len(summary.backends) < 2:
        print("tempest: WARNING: one backend only (no Ceph): multi_backend was False", file=sys.stderr)
    print(f"tempest: backends {', '.join(summary.backends)}")
    print(f"tempest: {summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped "
          f"in {summary.seconds:.0f} s (summary: {args.summary})")
    per_test = ", ".join(f"{n} {status}" for status, n in sorted(summary.per_listed_test().items()))
    print(f"tempest: of the {len(summary.listed)} tests listed, class set-ups counted per test: {per_test}")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
