"""The real clients' retype, pools and capabilities against a real server (one backend, the
local pool): ``cinder retype --migration-policy``, ``openstack volume set --type --retype-policy``,
``cinder get-pools --detail``, ``cinder get-capabilities``, ``openstack volume backend pool list``
and ``openstack volume backend capability show``. A retype onto a type whose backend is not
there is refused in Cinder's fault format (the cross-backend move itself: tests/rbd_api/test_retype.py).

Found: both clients send ``migration_policy`` (``never`` unless asked); openstackclient sends
``os-retype`` only with ``--retype-policy`` or when the type changes, and names the type by id.
"""

from __future__ import annotations

import json
import socket
import uuid

from .test_action_clients import openstack, show
from .test_cli_clients import table
from .test_quota_clients import cinder

ME = socket.gethostname()


def new_type(env, **specs: str) -> dict:
    name = f"rt-{uuid.uuid4().hex[:8]}"
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": name}})["volume_type"]
    if specs:
        env.admin.ok("POST", f"/types/{t['id']}/extra_specs", json={"extra_specs": specs})
    return t  # type: ignore[no-any-return]


def test_cinder_retype(env):
    gold, far = new_type(env), new_type(env, volume_backend_name="elsewhere")
    vid = env.user.create_volume(1, "cli-retype")["id"]
    cinder(env, env.user_token, "retype", "--migration-policy", "on-demand", vid, gold["name"])
    assert show(env, vid)["volume_type"] == gold["name"] and show(env, vid)["status"] == "available"
    assert table(cinder(env, env.user_token, "show", vid).stdout)["volume_type"] == gold["name"]
    never = cinder(env, env.user_token, "retype", vid, far["name"], check=False)
    assert never.returncode != 0 and "migration_policy on-demand" in never.stderr
    gone = cinder(env, env.user_token, "retype", "--migration-policy", "on-demand", vid, far["name"], check=False)
    assert gone.returncode != 0 and "elsewhere" in gone.stderr
    assert show(env, vid)["volume_type"] == gold["name"]


def test_openstack_volume_set_type_with_retype_policy(env):
    silver = new_type(env)
    vid = env.user.create_volume(1, "osc-retype")["id"]
    openstack(env, env.user_token, "volume", "set", "--type", silver["name"], "--retype-policy", "on-demand", vid)
    shown = json.loads(openstack(env, env.user_token, "volume", "show", vid, "-f", "json").stdout)
    assert shown["type"] == silver["name"]


def test_cinder_get_pools_and_capabilities(env):
    names = [r.split("|")[2].strip() for r in cinder(env, env.admin_token, "get-pools").stdout.splitlines()
             if r.startswith("| name")]
    assert f"{ME}@local#local" in names
    detail = cinder(env, env.admin_token, "get-pools", "--detail").stdout
    assert "volume_backend_name" in detail and "storage_protocol" in detail and "NBD" in detail
    caps = table(cinder(env, env.admin_token, "get-capabilities", f"{ME}@local").stdout)
    assert caps["volume_backend_name"] == "local" and caps["vendor_name"] == "volclone"
    assert caps["namespace"] == f"OS::Storage::Capabilities::{ME}@local"
    denied = cinder(env, env.user_token, "get-pools", check=False)
    assert denied.returncode != 0 and "scheduler_extension:scheduler_stats:get_pools" in denied.stderr


def test_openstack_volume_backend_pool_list_and_capability_show(env):
    pools = json.loads(openstack(env, env.admin_token, "--os-volume-api-version", "3", "volume", "backend", "pool",
                                 "list", "--long", "-f", "json").stdout)
    [mine] = [p for p in pools if p["Name"] == f"{ME}@local#local"]
    # (--long -f json gives the capabilities as one object)
    assert mine["Capabilities"]["storage_protocol"] == "NBD" and mine["Capabilities"]["total_capacity_gb"] == "unknown"
    caps = json.loads(openstack(env, env.admin_token, "--os-volume-api-version", "3", "volume", "backend",
                                "capability", "show", f"{ME}@local", "-f", "json").stdout)
    assert {c["Title"] for c in caps} >= {"Thin Provisioning", "Consistent Group Snapshot"}
