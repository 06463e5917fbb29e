"""The ``openstack`` CLI with a password, end to end: it authenticates with Keystone, finds
volclone in the catalog (``volumev3`` / ``block-storage``), and volclone validates its token with
Keystone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import forked_cli
from conftest import Server

from .conftest import Cloud, password

BIN = Path(sys.executable).parent


def openstack(cloud: Cloud, user: str, project: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "CINDER_"))}
    argv = [str(BIN / "openstack"), "--os-auth-url", cloud.keystone.url, "--os-identity-api-version", "3",
            "--os-username", user, "--os-password", password(user), "--os-project-name", project,
            "--os-user-domain-name", "Default", "--os-project-domain-name", "Default", *args]
    done = forked_cli.run(argv, env, timeout=120)
    assert done.returncode == 0, f"openstack {' '.join(args)}: rc {done.returncode}\n{done.stderr}"
    return done


def test_openstack_volume_create_list_show_delete_through_the_catalog(cloud: Cloud, server: Server):
    def osc(*args: str) -> subprocess.CompletedProcess[str]:
        return openstack(cloud, "bob", "proj-a", *args)

    created = json.loads(osc("volume", "create", "--size", "1", "ks-osc", "-f", "json").stdout)
    vid = created["id"]
    assert (created["name"], created["size"], created["status"]) == ("ks-osc", 1, "available")
    # It went to proj-a's path, the one the catalog names for bob's project.
    assert server.db_rows("SELECT project_id FROM volumes WHERE id = ?", vid) == [(cloud.projects["proj-a"],)]
    listed = json.loads(osc("volume", "list", "-f", "json").stdout)
    assert vid in {v["ID"] for v in listed}
    assert json.loads(osc("volume", "show", vid, "-f", "json").stdout)["id"] == vid
    # Another project's user does not see it.
    assert vid not in {v["ID"] for v in json.loads(openstack(cloud, "dave", "proj-b", "volume", "list",
                                                             "-f", "json").stdout)}
    osc("volume", "delete", vid)
    assert vid not in {v["ID"] for v in json.loads(osc("volume", "list", "-f", "json").stdout)}


def test_openstack_quota_set_and_show_per_volume_type_through_keystone(cloud: Cloud, server: Server):
    """``quota set --volume-type`` names the project, which the CLI looks up in Keystone; the
    limit is volclone's ``volumes_<type>``, enforced on the next create of that type."""
    gold = "ks-gold"

    def alice(*args: str) -> subprocess.CompletedProcess[str]:  # admin on proj-a
        return openstack(cloud, "alice", "proj-a", *args)

    alice("volume", "type", "create", gold)
    alice("quota", "set", "--volume-type", gold, "--volumes", "1", "--gigabytes", "5", "proj-b")
    shown = json.loads(alice("quota", "show", "--volume", "proj-b", "-f", "json").stdout)
    limits = {r["Resource"]: r["Limit"] for r in shown} if isinstance(shown, list) else shown
    assert (limits[f"volumes_{gold}"], limits[f"gigabytes_{gold}"]) == (1, 5), shown
    made = [json.loads(openstack(cloud, "dave", "proj-b", "volume", "create", "--size", "1", "--type", gold,
                                 "ks-q1", "-f", "json").stdout)["id"]]
    with pytest.raises(AssertionError, match=f"VolumeLimitExceeded.*'volumes_{gold}'"):
        openstack(cloud, "dave", "proj-b", "volume", "create", "--size", "1", "--type", gold, "ks-q2")
    assert server.db_rows("SELECT count(*) FROM volumes WHERE name = 'ks-q2'") == [(0,)]
    made.append(json.loads(openstack(cloud, "dave", "proj-b", "volume", "create", "--size", "1", "ks-q3",
                                     "-f", "json").stdout)["id"])  # the default type: not limited
    openstack(cloud, "dave", "proj-b", "volume", "delete", *made)
