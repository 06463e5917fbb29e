"""The admin endpoints through a real server of its own (they change what every project sees):
the default quota class changes a project's defaults and is enforced; a disabled service gets
no new volume; a frozen backend's volume is not deleted; os-hosts lists the server twice."""

from __future__ import annotations

import socket

from .support import assert_fault

ME = socket.gethostname()


def test_quota_classes_services_and_hosts_work_together(make_env):
    env = make_env(VOLCLONE_QUOTA_VOLUMES="5")
    admin, user = env.admin, env.user
    shown = admin.ok("GET", "/os-quota-class-sets/default")["quota_class_set"]
    assert (shown["id"], shown["volumes"]) == ("default", 5)
    admin.ok("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"volumes": 1}})
    assert user.ok("GET", "/os-quota-sets/p1")["quota_set"]["volumes"] == 1
    vol = user.create_volume(1)
    assert_fault(user.request("POST", "/volumes", json={"volume": {"size": 1}}), 413, "VolumeLimitExceeded")
    admin.ok("PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"volumes": 5}})

    hosts = {h["host_name"]: h["service"] for h in admin.ok("GET", "/os-hosts")["hosts"]}
    assert hosts == {f"{ME}@local": "cinder-volume", ME: "cinder-scheduler"}
    [total, mine] = admin.ok("GET", f"/os-hosts/{ME}@local")["host"]
    assert (total["resource"]["volume_count"], mine["resource"]["project"]) == ("1", "p1")

    admin.ok("PUT", "/os-services/disable-log-reason",
             json={"host": f"{ME}@local", "binary": "cinder-volume", "disabled_reason": "disk swap"})
    refused = user.request("POST", "/volumes", json={"volume": {"size": 1}})  # Cinder's: 202, then error
    assert refused.status_code == 202 and refused.json()["volume"]["status"] == "error", refused.text
    user.ok("DELETE", f"/volumes/{refused.json()['volume']['id']}")
    admin.ok("PUT", "/os-services/enable", json={"host": f"{ME}@local", "binary": "cinder-volume"})
    second = user.create_volume(1)

    assert admin.request("PUT", "/os-services/freeze", json={"host": ME}).status_code == 200
    [listed] = admin.ok("GET", "/os-services", params={"binary": "cinder-volume"})["services"]
    assert (listed["frozen"], listed["status"], listed["disabled_reason"]) == (True, "disabled", "frozen")
    assert_fault(user.request("DELETE", f"/volumes/{vol['id']}"), 400, "frozen")
    assert admin.request("PUT", "/os-services/thaw", json={"host": ME}).status_code == 200
    for v in (vol, second):
        user.ok("DELETE", f"/volumes/{v['id']}")
