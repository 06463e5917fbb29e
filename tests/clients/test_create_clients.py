"""The real clients' volume creates from another volume against a real server:
``cinder create --source-volid``, ``openstack volume create --source`` and openstacksdk's
``create_volume(source_volume_id=...)``; and ``--availability-zone`` / a zone volclone does not
serve."""

from __future__ import annotations

import json
import time

import pytest

from api.support import unique

from .test_cli_clients import openstack, table
from .test_quota_clients import cinder


def _available(env, volume_id: str) -> dict:
    deadline = time.monotonic() + 60
    while (v := env.user.ok("GET", f"/volumes/{volume_id}")["volume"])["status"] != "available":
        assert v["status"] == "creating" and time.monotonic() < deadline, v
        time.sleep(0.05)
    return v


def test_cinder_create_source_volid(env):
    src = env.user.create_volume(1, unique("cli-src"))["id"]
    made = table(cinder(env, env.user_token, "create", "--source-volid", src, "--name", unique("cli-clone"),
                        "2").stdout)
    assert (made["source_volid"], made["size"]) == (src, "2")
    assert made["status"] in ("creating", "available")
    assert _available(env, made["id"])["source_volid"] == src
    refused = cinder(env, env.user_token, "create", "--source-volid", src, "--availability-zone", "elsewhere", "1",
                     check=False)
    assert refused.returncode != 0 and "Availability zone 'elsewhere' is invalid" in refused.stderr
    for vid in (made["id"], src):
        cinder(env, env.user_token, "delete", vid)


def test_openstack_volume_create_source(env):
    src = env.user.create_volume(1, unique("osc-src"))["id"]
    out = openstack(env, "volume", "create", "--source", src, "--availability-zone", "nova", "-f", "json",
                    unique("osc-clone")).stdout
    made = json.loads(out)
    assert (made["source_volid"], made["size"], made["availability_zone"]) == (src, 1, "nova")
    _available(env, made["id"])
    for vid in (made["id"], src):
        openstack(env, "volume", "delete", vid)


@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")  # the SDK's own
def test_openstacksdk_create_volume_from_source(env):
    from api.test_openstacksdk import connect

    bs = connect(env.server, env.user_token).block_storage
    src = bs.create_volume(size=1, name=unique("sdk-src"))
    made = bs.create_volume(source_volume_id=src.id, name=unique("sdk-clone"), size=2)
    made = bs.wait_for_status(made, "available", wait=60)
    assert (made.source_volume_id, made.size) == (src.id, 2)
    for v in (made, src):
        bs.delete_volume(v)
