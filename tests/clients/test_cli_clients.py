"""The real OpenStack command-line clients against a real server, with token auth (no Keystone).

``openstack`` (python-openstackclient over openstacksdk) and ``cinder`` (python-cinderclient)
run as processes of their own (forked from one that imported them, :mod:`forked_cli`), with the
venv bin's command lines, against ``http://127.0.0.1:PORT/v3/PROJECT``:

    openstack --os-auth-type admin_token --os-endpoint URL --os-token T volume create --size 1 x
    cinder --os-auth-type admin_token --os-endpoint URL --os_token T --os-project-id P create 1

What was found about cinderclient 9.10.0: it has no ``--os-token`` option (only the hidden
``--os_token``, or ``OS_TOKEN`` in the environment; ``--os-token T`` makes it read T as the
subcommand), and it wants a project id (``--os-project-id``) even with ``admin_token``. It
negotiates the microversion by itself: it asks for 3.71, reads the server's version document
(``GET /``) and, the server's maximum being 3.71, uses it (before, with 3.27, it downgraded with
a warning), so ``--os-volume-api-version`` is not needed. openstackclient reads ``/v3`` and
negotiates by itself too.

Both send every optional create field as null (``snapshot_id``, ``source_volid``,
``consistencygroup_id``, ``imageRef``, ``backup_id``, openstackclient also ``metadata: null``),
and ``OS-SCH-HNT:scheduler_hints`` beside ``volume`` when given ``--hint``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import forked_cli

BIN = Path(sys.executable).parent


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "CINDER_"))}
    done = forked_cli.run(argv, env, timeout=120)
    if check:
        assert done.returncode == 0, f"{' '.join(argv[:1] + argv[7:])}: rc {done.returncode}\n{done.stderr}"
    return done


def openstack(env, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    endpoint = f"{env.server.url}/v3/p1"
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", endpoint,
                "--os-token", env.user_token, *args], check)


def cinder(env, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    endpoint = f"{env.server.url}/v3/p1"
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", endpoint,
                "--os_token", env.user_token, "--os-project-id", "p1", *args], check)


def table(stdout: str) -> dict[str, str]:
    """cinderclient's ``| Property | Value |`` table as a dict."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells[0] != "Property":
            rows[cells[0]] = cells[1]
    return rows


def test_openstack_volume_create_list_show_delete(env):
    created = json.loads(openstack(env, "volume", "create", "--size", "1", "--property", "k=v", "osc-vol",
                                   "-f", "json").stdout)
    vid = created["id"]
    assert (created["name"], created["size"], created["status"]) == ("osc-vol", 1, "available")
    listed = json.loads(openstack(env, "volume", "list", "-f", "json").stdout)
    assert {"ID": vid, "Name": "osc-vol", "Status": "available", "Size": 1, "Attached to": []} in listed
    shown = json.loads(openstack(env, "volume", "show", vid, "-f", "json").stdout)
    assert (shown["id"], shown["properties"]) == (vid, {"k": "v"})
    openstack(env, "volume", "delete", vid)
    assert vid not in {v["ID"] for v in json.loads(openstack(env, "volume", "list", "-f", "json").stdout)}


def test_cinder_create_list_show_delete(env):
    done = cinder(env, "--debug", "create", "1")
    assert "downgrading" not in done.stderr  # the server serves the 3.71 it asks for
    assert "OpenStack-API-Version: volume 3.71" in done.stderr
    created = table(done.stdout)
    vid = created["id"]
    assert (created["size"], created["status"], created["name"]) == ("1", "available", "None")
    assert vid in cinder(env, "list").stdout
    assert table(cinder(env, "show", vid).stdout)["id"] == vid
    cinder(env, "delete", vid)
    assert vid not in cinder(env, "list").stdout


@pytest.mark.parametrize("client", ["openstack", "cinder"])
def test_a_misshapen_scheduler_hint_is_refused_by_name(env, client):
    """The clients put hints in ``OS-SCH-HNT:scheduler_hints``; ``same_host`` must name volumes (a
    UUID or a list of them, Cinder's schema): a 400 that names the hint, and nothing is created."""
    before = {r[0] for r in env.server.db_rows("SELECT id FROM volumes")}
    if client == "openstack":
        done = openstack(env, "volume", "create", "--size", "1", "--hint", "same_host=x", "hinted", check=False)
    else:
        done = cinder(env, "create", "--hint", "same_host=x", "1", check=False)
    assert done.returncode != 0
    assert "same_host must be a volume id (a UUID) or a list of them" in done.stderr, done.stderr
    assert "HTTP 400" in done.stderr or "400" in done.stderr
    assert {r[0] for r in env.server.db_rows("SELECT id FROM volumes")} == before


def test_openstack_volume_of_a_private_type_is_not_found(env):
    """A user's client can't name an admin's private type (it does not exist for the user)."""
    admin = env.admin
    t = admin.ok("POST", "/types", json={"volume_type": {"name": "osc-private", "is_public": False}})["volume_type"]
    try:
        done = openstack(env, "volume", "create", "--size", "1", "--type", "osc-private", "typed", check=False)
        assert done.returncode != 0
        assert "404" in done.stderr and "volume type osc-private could not be found" in done.stderr, done.stderr
    finally:
        admin.ok("DELETE", f"/types/{t['id']}")
