"""The real clients' service lists against a real server: ``cinder service-list`` and
``openstack volume service list`` show the server as a volume service, up."""

from __future__ import annotations

import socket

from .test_cli_clients import BIN, run
from .test_quota_clients import cinder

ME = socket.gethostname()


def rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in out.splitlines()
            if line.startswith("| ")]


def test_cinder_service_list(env):
    header, *services = rows(cinder(env, env.admin_token, "service-list").stdout)
    listed = {(r[header.index("Binary")], r[header.index("Host")]): r for r in services}
    me = listed[("cinder-volume", f"{ME}@local")]
    assert (me[header.index("Status")], me[header.index("State")]) == ("enabled", "up")
    assert rows(cinder(env, env.admin_token, "service-list", "--host", "no-such-worker").stdout)[1:] == []


def test_openstack_volume_service_list(env):
    done = run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", env.admin_token, "--os-volume-api-version", "3", "volume", "service", "list"], True)
    header, *services = rows(done.stdout)
    me = next(r for r in services if r[header.index("Host")] == f"{ME}@local")
    assert (me[header.index("Binary")], me[header.index("State")]) == ("cinder-volume", "up")
