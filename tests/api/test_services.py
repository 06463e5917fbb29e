"""GET /v3/{project_id}/os-services through a real server: the server lists itself as a worker
serving its backend, in Cinder's shape; filters; cluster from microversion 3.7; admins only."""

from __future__ import annotations

import datetime as dt
import socket

from .support import assert_fault

ME = socket.gethostname()


def test_the_server_lists_itself_as_cinder_lists_a_volume_service(env):
    [me] = [s for s in env.admin.ok("GET", "/os-services")["services"] if s["host"] == f"{ME}@local"]
    assert me == {"binary": "cinder-volume", "host": f"{ME}@local", "zone": "nova", "status": "enabled",
                  "state": "up", "updated_at": me["updated_at"], "disabled_reason": None,
                  "replication_status": "not-capable", "active_backend_id": None, "frozen": False}
    beat = dt.datetime.fromisoformat(me["updated_at"])
    assert abs(dt.datetime.now(dt.UTC).replace(tzinfo=None) - beat) < dt.timedelta(seconds=60)


def test_filters_and_the_cluster_field_of_microversion_3_7(env):
    def hosts(**params: str) -> list[str]:
        return [s["host"] for s in env.admin.ok("GET", "/os-services", params=params)["services"]]

    # ME: the worker's backends and the scheduler (a server places volumes too)
    assert sorted(hosts(host=ME)) == sorted([*hosts(host=f"{ME}@local"), ME])
    assert hosts(host=f"{ME}@nothing") == hosts(host="no-such-worker") == []
    assert f"{ME}@local" in hosts(binary="cinder-volume") == hosts(binary="volclone-volume")  # the older name
    assert ME in hosts(binary="cinder-scheduler") == hosts(service="cinder-scheduler")
    assert hosts(binary="cinder-backup") == []
    assert f"{ME}@local" in hosts(binary="cinder-volume", service="cinder-scheduler")  # binary wins
    newer = env.admin.ok("GET", "/os-services", headers={"OpenStack-API-Version": "volume 3.7"})["services"]
    assert all(s["cluster"] is None for s in newer)
    assert all("backend_state" not in s for s in newer)
    at_3_49 = env.admin.ok("GET", "/os-services", headers={"OpenStack-API-Version": "volume 3.49"})["services"]
    assert {s["backend_state"] for s in at_3_49 if s["host"] == f"{ME}@local"} == {"up"}


def test_a_project_token_is_refused_naming_the_rule(env):
    assert_fault(env.user.request("GET", "/os-services"), 403,
                 "Policy doesn't allow volume_extension:services:index to be performed.")
