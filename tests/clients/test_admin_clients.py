"""The real clients' admin commands against a server of their own (a quota class, a disabled or
frozen service change what every project sees):

- python-cinderclient: ``quota-class-show``/``quota-class-update`` (it sends ``class_name`` in the
  body, which the server ignores), ``service-disable --reason``, ``service-enable``,
  ``freeze-host``, ``thaw-host``;
- python-openstackclient: ``volume service set --disable --disable-reason`` / ``--enable``,
  ``volume host set --disable`` / ``--enable`` (freeze and thaw), ``quota set --default`` (the
  default quota class).

(``openstack quota show --class`` is gone from python-openstackclient, and its ``quota show``
looks the project up in Keystone, which these servers have not.)
"""

from __future__ import annotations

import json
import socket

from .test_cli_clients import BIN, run, table
from .test_quota_clients import cinder
from .test_service_clients import rows

ME = socket.gethostname()


def _service(env, host: str) -> dict[str, object]:
    [s] = env.admin.ok("GET", "/os-services", params={"host": host, "binary": "cinder-volume"})["services"]
    return s  # type: ignore[no-any-return]


def admin_openstack(env, *args: str):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os-token", env.admin_token, "--os-volume-api-version", "3", *args])


def test_cinder_quota_classes_and_service_actions(make_env):
    env = make_env()
    shown = table(cinder(env, env.admin_token, "quota-class-show", "default").stdout)
    assert shown["volumes"] == "-1"  # the test servers' defaults (tests/conftest.py)
    updated = table(cinder(env, env.admin_token, "quota-class-update", "--volumes", "7", "default").stdout)
    assert updated["volumes"] == "7"
    assert table(cinder(env, env.admin_token, "quota-defaults", "p1").stdout)["volumes"] == "7"

    cinder(env, env.admin_token, "service-disable", "--reason", "new disks", f"{ME}@local", "cinder-volume")
    s = _service(env, f"{ME}@local")
    assert (s["status"], s["disabled_reason"]) == ("disabled", "new disks")
    header, *listed = rows(cinder(env, env.admin_token, "service-list", "--binary", "cinder-volume").stdout)
    assert [r[header.index("Status")] for r in listed] == ["disabled"]
    cinder(env, env.admin_token, "service-enable", f"{ME}@local", "cinder-volume")
    assert _service(env, f"{ME}@local")["status"] == "enabled"

    cinder(env, env.admin_token, "freeze-host", ME)
    assert _service(env, f"{ME}@local")["frozen"] is True
    cinder(env, env.admin_token, "thaw-host", ME)
    s = _service(env, f"{ME}@local")
    assert (s["frozen"], s["status"]) == (False, "enabled")


def test_openstack_volume_service_and_host_set(make_env):
    env = make_env()
    admin_openstack(env, "volume", "service", "set", "--disable", "--disable-reason", "firmware", f"{ME}@local",
                    "cinder-volume")
    s = _service(env, f"{ME}@local")
    assert (s["status"], s["disabled_reason"]) == ("disabled", "firmware")
    listed = json.loads(admin_openstack(env, "volume", "service", "list", "--long", "-f", "json").stdout)
    [mine] = [r for r in listed if r["Host"] == f"{ME}@local"]
    assert (mine["Binary"], mine["Status"], mine["Disabled Reason"]) == ("cinder-volume", "disabled", "firmware")
    admin_openstack(env, "volume", "service", "set", "--enable", f"{ME}@local", "cinder-volume")
    assert _service(env, f"{ME}@local")["status"] == "enabled"
    admin_openstack(env, "volume", "host", "set", "--disable", ME)  # freeze
    assert _service(env, f"{ME}@local")["frozen"] is True
    admin_openstack(env, "volume", "host", "set", "--enable", ME)  # thaw
    assert _service(env, f"{ME}@local")["frozen"] is False
    # quota set --default: the default quota class (no Keystone look-up, unlike a project's)
    admin_openstack(env, "quota", "set", "--default", "--volumes", "9", "--snapshots", "4")
    stored = env.admin.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]
    assert (stored["volumes"], stored["snapshots"], stored["gigabytes"]) == (9, 4, -1)
    assert env.admin.ok("GET", "/os-quota-sets/p1/defaults")["quota_set"]["volumes"] == 9
