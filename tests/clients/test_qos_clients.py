"""The real clients on QoS specs, with admin tokens, no Keystone: python-cinderclient's ``cinder
qos-create / qos-key / qos-associate / qos-list / qos-get-association / qos-disassociate /
qos-delete`` and ``openstack volume qos create / set / unset / associate / show / list /
disassociate / delete``. What they did is read back over HTTP."""

from __future__ import annotations

import json
import uuid

from .test_cli_clients import BIN, run


def _openstack(env, *args: str):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint",
                f"{env.server.url}/v3/p1", "--os-token", env.admin_token, *args])


def _cinder(env, *args: str):
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os_token", env.admin_token, "--os-project-id", "p1", *args])


def _type(env, prefix: str):
    return env.admin.ok("POST", "/types", json={"volume_type": {"name": f"{prefix}-{uuid.uuid4().hex[:8]}"}})[
        "volume_type"]


def _spec(env, name: str):
    return next(q for q in env.admin.ok("GET", "/qos-specs")["qos_specs"] if q["name"] == name)


def test_cinderclient_qos_commands(env):
    t = _type(env, "cinder-qos")
    name = f"cq-{uuid.uuid4().hex[:8]}"
    _cinder(env, "qos-create", name, "consumer=back-end", "total_iops_sec=300")
    q = _spec(env, name)
    try:
        assert (q["consumer"], q["specs"]) == ("back-end", {"total_iops_sec": "300"})
        _cinder(env, "qos-key", q["id"], "set", "read_bytes_sec=1048576")
        _cinder(env, "qos-key", q["id"], "unset", "total_iops_sec")
        assert _spec(env, name)["specs"] == {"read_bytes_sec": "1048576"}
        assert q["id"] in _cinder(env, "qos-list").stdout
        assert "read_bytes_sec" in _cinder(env, "qos-show", q["id"]).stdout

        _cinder(env, "qos-associate", q["id"], t["id"])
        assert t["name"] in _cinder(env, "qos-get-association", q["id"]).stdout
        assert env.admin.ok("GET", f"/types/{t['id']}")["volume_type"]["qos_specs_id"] == q["id"]
        _cinder(env, "qos-disassociate", q["id"], t["id"])
        assert env.admin.ok("GET", f"/qos-specs/{q['id']}/associations") == {"qos_associations": []}
        _cinder(env, "qos-associate", q["id"], t["id"])
        _cinder(env, "qos-disassociate-all", q["id"])
        assert env.admin.ok("GET", f"/types/{t['id']}")["volume_type"]["qos_specs_id"] is None
        _cinder(env, "qos-associate", q["id"], t["id"])
        _cinder(env, "qos-delete", "--force", "True", q["id"])
        assert env.admin.request("GET", f"/qos-specs/{q['id']}").status_code == 404
    finally:
        env.admin.request("DELETE", f"/qos-specs/{q['id']}", params={"force": "true"})
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_openstack_volume_qos_commands(env):
    t = _type(env, "osc-qos")
    name = f"oq-{uuid.uuid4().hex[:8]}"
    made = json.loads(_openstack(env, "volume", "qos", "create", "--consumer", "both", "--property",
                                 "write_iops_sec=200", "-f", "json", name).stdout)
    try:
        assert made["name"] == name and made["consumer"] == "both"
        _openstack(env, "volume", "qos", "set", "--property", "write_bytes_sec=2097152", name)
        _openstack(env, "volume", "qos", "unset", "--property", "write_iops_sec", name)
        assert _spec(env, name)["specs"] == {"write_bytes_sec": "2097152"}
        _openstack(env, "volume", "qos", "associate", name, t["name"])
        shown = json.loads(_openstack(env, "volume", "qos", "show", "-f", "json", name).stdout)
        assert t["name"] in str(shown["associations"])
        listed = json.loads(_openstack(env, "volume", "qos", "list", "-f", "json").stdout)
        assert name in {q["Name"] for q in listed}
        _openstack(env, "volume", "qos", "disassociate", "--volume-type", t["name"], name)
        assert env.admin.ok("GET", f"/qos-specs/{made['id']}/associations") == {"qos_associations": []}
        _openstack(env, "volume", "qos", "associate", name, t["name"])
        refused = run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint",
                       f"{env.server.url}/v3/p1", "--os-token", env.admin_token, "volume", "qos", "delete", name],
                      check=False)
        assert refused.returncode != 0, "a spec still associated is deleted only with --force"
        _openstack(env, "volume", "qos", "delete", "--force", name)
        assert env.admin.request("GET", f"/qos-specs/{made['id']}").status_code == 404
    finally:
        env.admin.request("DELETE", f"/qos-specs/{made['id']}", params={"force": "true"})
        env.admin.ok("DELETE", f"/types/{t['id']}")
