"""The real clients on volume type encryption, with admin tokens, no Keystone: ``openstack volume
type create --encryption-* / show --encryption-type / set --encryption-* / unset --encryption-type``
and python-cinderclient's ``cinder encryption-type-create / -show / -list / -update / -delete``.
What they did is read back over HTTP; a volume of an encrypted type is refused."""

from __future__ import annotations

import json
import uuid

from .test_cli_clients import BIN, run


def _openstack(env, *args: str, check: bool = True):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint",
                f"{env.server.url}/v3/p1", "--os-token", env.admin_token, *args], check=check)


def _cinder(env, *args: str):
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os_token", env.admin_token, "--os-project-id", "p1", *args])


def _encryption(env, type_id: str):
    return env.admin.ok("GET", f"/types/{type_id}/encryption")


def test_openstack_volume_type_with_encryption(env):
    name = f"osc-enc-{uuid.uuid4().hex[:8]}"
    made = json.loads(_openstack(env, "volume", "type", "create", "--encryption-provider", "luks",
                                 "--encryption-cipher", "aes-xts-plain64", "--encryption-key-size", "256",
                                 "--encryption-control-location", "front-end", "-f", "json", name).stdout)
    try:
        enc = _encryption(env, made["id"])
        assert (enc["provider"], enc["cipher"], enc["key_size"], enc["control_location"]) == (
            "luks", "aes-xts-plain64", 256, "front-end")
        shown = json.loads(_openstack(env, "volume", "type", "show", "--encryption-type", "-f", "json",
                                      name).stdout)
        assert "aes-xts-plain64" in str(shown["encryption"]) and "luks" in str(shown["encryption"])
        _openstack(env, "volume", "type", "set", "--encryption-key-size", "512", name)
        assert _encryption(env, made["id"])["key_size"] == 512
        # No volume of the type: volclone has no key manager to make its key.
        refused = _openstack(env, "volume", "create", "--size", "1", "--type", name, f"{name}-v", check=False)
        assert refused.returncode != 0 and "no key manager" in refused.stderr, refused.stderr
        assert not [v for v in env.admin.ok("GET", "/volumes", params={"all_tenants": "1"})["volumes"]
                    if v["name"] == f"{name}-v"]
        _openstack(env, "volume", "type", "unset", "--encryption-type", name)
        assert _encryption(env, made["id"]) == {}
    finally:
        env.admin.ok("DELETE", f"/types/{made['id']}")


def test_cinderclient_encryption_type_commands(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": f"cc-enc-{uuid.uuid4().hex[:8]}"}})[
        "volume_type"]
    try:
        _cinder(env, "encryption-type-create", "--cipher", "aes-xts-plain64", "--key-size", "256",
                "--control-location", "front-end", t["id"], "luks")
        assert (_encryption(env, t["id"])["provider"], _encryption(env, t["id"])["key_size"]) == ("luks", 256)
        assert "aes-xts-plain64" in _cinder(env, "encryption-type-show", t["id"]).stdout
        assert t["id"] in _cinder(env, "encryption-type-list").stdout
        _cinder(env, "encryption-type-update", "--control-location", "back-end", "--key-size", "128", t["id"])
        enc = _encryption(env, t["id"])
        assert (enc["control_location"], enc["key_size"], enc["provider"]) == ("back-end", 128, "luks")
        _cinder(env, "encryption-type-delete", t["id"])
        assert _encryption(env, t["id"]) == {}
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")
