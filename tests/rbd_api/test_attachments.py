"""Attachments of RBD volumes: Cinder's ``rbd`` connection_info, which a librbd client (QEMU
here, through ``qemu-io``) uses to reach the image directly."""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

from .conftest import BACKEND, POOL, RbdEnv, pattern

#: The attachments API is 3.27; os-complete is 3.44 and the body's mode 3.54.
MV = {"OpenStack-API-Version": "volume 3.54"}


def attach(e: RbdEnv, volume_id: str, mode: str) -> dict[str, Any]:
    body = {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4()), "connector": {"host": "h1"}, "mode": mode}
    return e.user.ok("POST", "/attachments", json={"attachment": body}, headers=MV)["attachment"]  # type: ignore[no-any-return]


def mon_v1(conf: str) -> tuple[str, str]:
    """The monitor's msgr1 address, from the cluster itself (``ceph mon dump``)."""
    out = subprocess.run(["ceph", "--conf", conf, "mon", "dump", "--format", "json"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    mon = json.loads(out)["mons"][0]
    addr = next(a["addr"] for a in mon["public_addrs"]["addrvec"] if a["type"] == "v1")
    host, port = addr.rsplit(":", 1)
    return host, port


def qemu_io(info: dict[str, Any], *commands: str) -> str:
    """Run qemu-io on the volume the way Nova's libvirt driver would open it from connection_info."""
    data = info["data"]
    mons = "\\;".join(f"{h}\\:{p}" for h, p in zip(data["hosts"], data["ports"], strict=False))
    spec = f"rbd:{data['name']}:mon_host={mons}"
    spec += f":id={data['auth_username']}" if data["auth_enabled"] else ":auth_supported=none"
    args = ["qemu-io", "-f", "raw", *(["-r"] if data["access_mode"] == "ro" else []), spec]
    for c in commands:
        args += ["-c", c]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Pattern verification failed" not in out, f"{args}:\n{out}"
    return out


def test_an_rbd_attachment_gives_cinder_rbd_connection_info(rbd_env: RbdEnv) -> None:
    e = rbd_env
    vid = e.user.create_volume(1, "attached", volume_type=e.ceph_type)["id"]
    a = attach(e, vid, "rw")
    host, port = mon_v1(e.conf)
    assert a["connection_info"] == {
        "driver_volume_type": "rbd",
        "data": {"name": f"{POOL}/volume-{vid}", "hosts": [host], "ports": [port], "cluster_name": "ceph",
                 "auth_enabled": False, "auth_username": None, "secret_type": "ceph", "secret_uuid": None,
                 "volume_id": vid, "discard": True, "keyring": None, "access_mode": "rw"},
    }
    e.user.ok("POST", f"/attachments/{a['id']}/action", json={"os-complete": None}, headers=MV)
    assert e.volume(vid)["status"] == "in-use"

    # The consumer's librbd reaches the image with what connection_info says, nothing else.
    qemu_io(a["connection_info"], "write -P 0x7e 1M 64k")
    assert e.read(vid, 1024 * 1024, 64 * 1024) == pattern(0x7E, 64 * 1024)

    # An in-use volume clones like any other.
    p = e.user.wait(e.user.clone([vid]))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    clone = p["details"]["results"][vid]
    assert e.read(clone, 1024 * 1024, 64 * 1024) == pattern(0x7E, 64 * 1024)

    # Read-only attachments say so; QEMU opens the image read-only. Two servers share the clone
    # once it is multiattach (retyped to a ceph type with multiattach="<is> True"; Cinder's rule),
    # the second after the first is completed (in-use).
    e.user.ok("DELETE", f"/attachments/{a['id']}", headers=MV)
    assert e.volume(vid)["status"] == "available"
    multi = e.admin.ok("POST", "/types", json={"volume_type": {"name": f"ceph-multi-{uuid.uuid4().hex[:6]}",
                       "extra_specs": {"volume_backend_name": BACKEND, "multiattach": "<is> True"}}})["volume_type"]
    e.user.ok("POST", f"/volumes/{clone}/action", json={"os-retype": {"new_type": multi["id"]}})
    assert e.volume(clone)["multiattach"] is True
    ro = [attach(e, clone, "ro")]
    e.user.ok("POST", f"/attachments/{ro[0]['id']}/action", json={"os-complete": None}, headers=MV)
    ro.append(attach(e, clone, "ro"))
    assert [r["connection_info"]["data"]["access_mode"] for r in ro] == ["ro", "ro"]
    assert ro[0]["connection_info"]["data"]["name"] == f"{POOL}/volume-{clone}"
    qemu_io(ro[0]["connection_info"], "read -P 0x7e 1M 64k")
    assert e.user.request("DELETE", f"/volumes/{clone}").status_code == 400  # attached
    for r in ro:
        e.user.ok("DELETE", f"/attachments/{r['id']}", headers=MV)
    e.delete(vid, clone)
    e.admin.ok("DELETE", f"/types/{multi['id']}")
