"""GET /scheduler-stats/get_pools and GET /capabilities/{hostname} in process, on two memory
backends: Cinder's shapes (checked against Tempest's schemas' required keys), detail, the 3.28
filters and the 3.35 volume_type filter (ignored below them), admins only, 404 for no such host."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from volclone.api import create_app
from volclone.backends.memory import MemoryDriver
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES

from .conftest import Fast
from .test_volume_actions import fault

ME = socket.gethostname()
POOLS = "/v3/admin/scheduler-stats/get_pools"


class Api:
    def __init__(self, fast: Fast, client: TestClient) -> None:
        self.fast = fast
        self.client = client
        self.admin = fast.svc.auth.create_token("admin", ADMIN_ROLES)
        self.member = fast.svc.auth.create_token("p1", MEMBER_ROLES)

    def get(self, path: str, version: str | None = None, token: str | None = None, **params: str) -> Any:
        headers = {"X-Auth-Token": token or self.admin}
        if version:
            headers["OpenStack-API-Version"] = f"volume {version}"
        return self.client.get(path, params=params, headers=headers)

    def names(self, version: str | None = None, **params: str) -> list[str]:
        r = self.get(POOLS, version, **params)
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["pools"]]


@pytest.fixture
def api(make_fast: Any) -> Iterator[Api]:
    fast: Fast = make_fast(drivers={"local": MemoryDriver("local"), "mem2": MemoryDriver("mem2")})
    fast.svc.types.create(fast.admin, "far", extra_specs={"volume_backend_name": "mem2"})
    with TestClient(create_app(fast.svc, manage_lifecycle=False, max_version=(3, 35))) as client:
        yield Api(fast, client)


def test_pools_are_named_as_cinder_names_them_and_detail_adds_capabilities(api: Api) -> None:
    assert api.get(POOLS).json() == {"pools": [{"name": f"{ME}@local#local"}, {"name": f"{ME}@mem2#mem2"}]}
    for off in ("false", "0", "nonsense"):
        assert api.names(detail=off) == [f"{ME}@local#local", f"{ME}@mem2#mem2"]
        assert "capabilities" not in api.get(POOLS, detail=off).json()["pools"][0]
    detailed = api.get(POOLS, detail="true").json()["pools"]
    assert [set(p) for p in detailed] == [{"name", "capabilities"}] * 2
    caps = detailed[1]["capabilities"]
    assert caps["volume_backend_name"] == caps["pool_name"] == "mem2"
    assert caps["storage_protocol"] == "memory" and caps["vendor_name"] == "volclone"
    assert caps["total_capacity_gb"] == caps["free_capacity_gb"] == "unknown"
    assert isinstance(caps["reserved_percentage"], int) and caps["QoS_support"] is False
    assert caps["consistent_group_snapshot_enabled"] is True and caps["timestamp"]


def test_filters_from_3_28_and_volume_type_from_3_35(api: Api) -> None:
    everything = [f"{ME}@local#local", f"{ME}@mem2#mem2"]
    assert api.names("3.27", volume_backend_name="mem2") == everything  # ignored below 3.28, as Cinder
    assert api.names("3.28", volume_backend_name="mem2") == [f"{ME}@mem2#mem2"]
    assert api.names("3.28", name=f"{ME}@local#local") == [f"{ME}@local#local"]
    assert api.names("3.28", QoS_support="false") == everything
    assert api.names("3.28", QoS_support="true") == []
    assert api.names("3.34", volume_type="far") == everything  # ignored below 3.35
    assert api.names("3.35", volume_type="far") == [f"{ME}@mem2#mem2"]
    default = api.fast.svc.types.default(api.fast.admin)
    assert api.names("3.35", volume_type=default.id) == [f"{ME}@local#local"]
    fault(api.get(POOLS, "3.35", volume_type="nope"), 404, "itemNotFound", "nope")


def test_capabilities_of_a_volume_service(api: Api) -> None:
    r = api.get(f"/v3/admin/capabilities/{ME}@mem2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"namespace", "vendor_name", "volume_backend_name", "pool_name", "driver_version",
                         "storage_protocol", "display_name", "description", "visibility", "replication_targets",
                         "properties"}
    assert body["namespace"].startswith("OS::Storage::Capabilities::") and body["volume_backend_name"] == "mem2"
    assert all(set(p) == {"title", "description", "type"} for p in body["properties"].values())
    # the same facts as the pool's detail (Tempest's test_backends_capabilities compares them)
    [pool] = [p for p in api.get(POOLS, detail="true").json()["pools"] if p["name"] == f"{ME}@mem2#mem2"]
    for key in ("driver_version", "storage_protocol", "vendor_name", "volume_backend_name"):
        assert body[key] == pool["capabilities"][key]
    fault(api.get("/v3/admin/capabilities/nowhere@mem2"), 404, "itemNotFound", "nowhere@mem2")


def test_pools_and_capabilities_are_for_admins(api: Api) -> None:
    fault(api.get("/v3/p1/scheduler-stats/get_pools", token=api.member), 403, "forbidden",
          "scheduler_extension:scheduler_stats:get_pools")
    fault(api.get(f"/v3/p1/capabilities/{ME}@local", token=api.member), 403, "forbidden",
          "volume_extension:capabilities")
