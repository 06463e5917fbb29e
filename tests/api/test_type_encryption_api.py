"""A volume type's encryption on a real ``volclone serve`` (the shared server): the admin gives a
type its encryption, a project's volume of it is refused with a clear 400 and nothing is made,
and once the encryption is gone the type makes volumes again (rules: tests/unit/test_type_encryption.py)."""

from __future__ import annotations

from api.support import assert_fault, unique


def test_an_encrypted_type_over_http(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("enc")}})["volume_type"]
    try:
        made = env.admin.ok("POST", f"/types/{t['id']}/encryption", json={"encryption": {
            "provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256, "control_location": "front-end"}})
        assert made["encryption"]["volume_type_id"] == t["id"]
        assert env.admin.ok("GET", f"/types/{t['id']}/encryption")["encryption_id"] == made["encryption"][
            "encryption_id"]
        assert_fault(env.user.request("GET", f"/types/{t['id']}/encryption"), 403, "volume_type_encryption:get")

        before = env.admin.ok("GET", "/volumes", params={"all_tenants": "1"})["volumes"]
        r = env.user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": t["name"]}})
        assert "encrypted" in assert_fault(r, 400, "no key manager")
        assert env.admin.ok("GET", "/volumes", params={"all_tenants": "1"})["volumes"] == before

        assert env.admin.ok("PUT", f"/types/{t['id']}/encryption/provider",
                            json={"encryption": {"key_size": 512}}) == {"encryption": {"key_size": 512}}
        assert env.admin.ok("GET", f"/types/{t['id']}/encryption/key_size") == {"key_size": 512}
        assert env.admin.request("DELETE", f"/types/{t['id']}/encryption/provider").status_code == 202
        assert env.admin.ok("GET", f"/types/{t['id']}/encryption") == {}
        vol = env.user.create_volume(1, volume_type=t["name"])
        assert vol["encrypted"] is False
        env.user.ok("DELETE", f"/volumes/{vol['id']}")
    finally:
        for v in env.admin.ok("GET", "/volumes/detail", params={"all_tenants": "1"})["volumes"]:
            if v["volume_type"] == t["name"]:
                env.admin.request("DELETE", f"/volumes/{v['id']}")
        env.admin.request("DELETE", f"/types/{t['id']}")
