"""The real clients on types: ``openstack volume type set --private/--public/--name`` (a PUT) and
``cinder type-access-add/-list/-remove`` (type access), with admin tokens, no Keystone.

``openstack volume type set --project`` needs Keystone: it looks the project up in the identity
service first (with token auth only, that lookup 404s and the grant is never sent); cinderclient
takes the project id as it is."""

from __future__ import annotations

import uuid

from .test_cli_clients import BIN, run


def _openstack(env, token, *args: str):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint",
                f"{env.server.url}/v3/p1", "--os-token", token, *args])


def _cinder(env, token, *args: str):
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os_token", token, "--os-project-id", "p1", *args])


def test_openstack_type_set_and_cinder_type_access(env):
    name = f"osc-type-{uuid.uuid4().hex[:8]}"
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": name}})["volume_type"]
    try:
        _openstack(env, env.admin_token, "volume", "type", "set", "--private", "--description", "by osc", name)
        shown = env.admin.ok("GET", f"/types/{t['id']}")["volume_type"]
        assert (shown["is_public"], shown["description"]) == (False, "by osc")
        assert t["id"] not in {x["id"] for x in env.user.ok("GET", "/types")["volume_types"]}

        _cinder(env, env.admin_token, "type-access-add", "--volume-type", t["id"], "--project-id", "p1")
        listed = _cinder(env, env.admin_token, "type-access-list", "--volume-type", t["id"]).stdout
        assert t["id"] in listed and "p1" in listed
        assert "by osc" in _openstack(env, env.user_token, "volume", "type", "show", name).stdout
        assert name in _openstack(env, env.admin_token, "volume", "type", "list", "--private").stdout

        _cinder(env, env.admin_token, "type-access-remove", "--volume-type", t["id"], "--project-id", "p1")
        assert t["id"] not in {x["id"] for x in env.user.ok("GET", "/types")["volume_types"]}
        _openstack(env, env.admin_token, "volume", "type", "set", "--public", "--name", name + "-b", t["id"])
        shown = env.user.ok("GET", f"/types/{t['id']}")["volume_type"]
        assert (shown["name"], shown["is_public"]) == (name + "-b", True)
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")
