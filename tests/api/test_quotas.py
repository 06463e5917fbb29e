"""os-quota-sets and limits through a real server, and quota checks on volume create and
clone-volumes: 413 overLimit naming the resource, and nothing made."""

from __future__ import annotations

import pytest

from conftest import make_token

from .support import assert_fault, clone_body, creates_nothing, unique

#: The shared server's defaults: the test servers have no quotas unless a test sets them
#: (tests/conftest.py); the servers of the 413 tests set theirs. The others are Cinder's defaults.
DEFAULTS = {"volumes": -1, "gigabytes": -1, "snapshots": -1, "backups": 10, "backup_gigabytes": 1000, "groups": 10,
            "per_volume_gigabytes": -1}
#: The prefixes of the per-type keys (``volumes_<type>``, ...), one set per type of the server.
PER_TYPE = ("volumes_", "gigabytes_", "snapshots_")


def wide(body: dict, **set_: int) -> dict:
    """The project-wide keys of a ``quota_set`` body, after checking that it has the per-type keys
    of the server's types (other tests add types) and that they are -1 but for ``set_``."""
    quota_set = body["quota_set"]
    per_type = {k: (v["limit"] if isinstance(v, dict) else v) for k, v in quota_set.items() if k.startswith(PER_TYPE)}
    assert {"volumes___DEFAULT__", "gigabytes___DEFAULT__", "snapshots___DEFAULT__"} <= set(per_type)
    assert per_type == {**dict.fromkeys(per_type, -1), **set_}
    return {k: v for k, v in quota_set.items() if k not in per_type}


@pytest.fixture
def project(env):
    """A project of its own on the shared server (its quotas set back at the end), and its user."""
    name = unique("quota")
    yield name, env.server.client(make_token(env.server.data_dir, name), name)
    env.admin.request("DELETE", f"/os-quota-sets/{name}")


def test_show_defaults_update_delete(env, project):
    name, _ = project
    assert wide(env.admin.ok("GET", f"/os-quota-sets/{name}")) == {"id": name, **DEFAULTS}
    defaults = env.admin.ok("GET", f"/os-quota-sets/{name}/defaults")["quota_set"]
    assert {k: defaults[k] for k in ("id", *DEFAULTS)} == {"id": name, **DEFAULTS}  # and the per-type keys
    r = env.admin.request("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"volumes": 4, "gigabytes": 0}})
    assert r.status_code == 200, r.text
    assert wide(r.json()) == {**DEFAULTS, "volumes": 4, "gigabytes": 0}
    assert env.admin.ok("GET", f"/os-quota-sets/{name}")["quota_set"]["volumes"] == 4
    assert env.admin.ok("GET", f"/os-quota-sets/{name}/defaults")["quota_set"]["volumes"] == -1
    r = env.admin.request("DELETE", f"/os-quota-sets/{name}")
    assert r.status_code == 200 and r.content == b""
    assert wide(env.admin.ok("GET", f"/os-quota-sets/{name}")) == {"id": name, **DEFAULTS}


def test_tenant_id_and_id_in_the_body_are_ignored_as_cinder_ignores_them(env, project):
    """python-cinderclient sends ``tenant_id`` in every quota update."""
    name, _ = project
    r = env.admin.request("PUT", f"/os-quota-sets/{name}",
                          json={"quota_set": {"tenant_id": name, "id": name, "snapshots": 0}})
    assert r.status_code == 200, r.text
    assert wide(r.json()) == {**DEFAULTS, "snapshots": 0}


def test_usage_and_limits(env, project):
    name, user = project
    env.admin.ok("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"volumes": 5}})
    user.create_volume(size=2)
    user.create_volume(size=3)
    shown = user.ok("GET", f"/os-quota-sets/{name}", params={"usage": "True"})["quota_set"]
    assert wide({"quota_set": shown}) == {"id": name,
                     "volumes": {"limit": 5, "in_use": 2, "reserved": 0, "allocated": 0},
                     "gigabytes": {"limit": -1, "in_use": 5, "reserved": 0, "allocated": 0},
                     "snapshots": {"limit": -1, "in_use": 0, "reserved": 0, "allocated": 0},
                     "backups": {"limit": 10, "in_use": 0, "reserved": 0, "allocated": 0},
                     "backup_gigabytes": {"limit": 1000, "in_use": 0, "reserved": 0, "allocated": 0},
                     "groups": {"limit": 10, "in_use": 0, "reserved": 0, "allocated": 0},
                     "per_volume_gigabytes": {"limit": -1, "in_use": 0, "reserved": 0, "allocated": 0}}
    assert user.ok("GET", f"/os-quota-sets/{name}", params={"usage": "false"})["quota_set"]["volumes"] == 5
    assert user.ok("GET", "/limits") == {"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": 5, "maxTotalVolumeGigabytes": -1, "maxTotalSnapshots": -1,
        "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
        "totalVolumesUsed": 2, "totalGigabytesUsed": 5, "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}}
    assert_fault(user.request("GET", f"/os-quota-sets/{name}", params={"usage": "maybe"}), 400, "usage")


def test_a_project_token_reads_its_own_and_changes_nothing(env, project):
    name, user = project
    assert user.ok("GET", f"/os-quota-sets/{name}")["quota_set"]["volumes"] == -1
    assert_fault(user.request("GET", "/os-quota-sets/p1"), 403)
    assert_fault(user.request("GET", "/os-quota-sets/p1/defaults"), 403)
    assert_fault(user.request("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"volumes": 100}}), 403)
    assert_fault(user.request("DELETE", f"/os-quota-sets/{name}"), 403)
    assert_fault(env.user.request("GET", f"/os-quota-sets/{name}"), 403)  # p1's token on another project
    assert user.ok("GET", f"/os-quota-sets/{name}")["quota_set"]["volumes"] == -1


@pytest.mark.parametrize("body, says", [
    ({"quota_set": {"volumes": -2}}, "volumes"),
    ({"quota_set": {"volumes": "10"}}, "volumes"),
    ({"quota_set": {"volumes": True}}, "volumes"),
    ({"quota_set": {"volumes": None}}, "volumes"),
    ({"quota_set": {"gigabytes": 2**31}}, "gigabytes"),
    ({"quota_set": {"backups": -5}}, "backups"),
    ({"quota_set": {"per_volume_gigabytes": "big"}}, "per_volume_gigabytes"),
    ({"quota_set": {"volumes_no-such-type": 1}}, "Bad key(s) in quota set: volumes_no-such-type"),
    ({"quota_set": {"nonsense": 1}}, "Bad key(s) in quota set: nonsense"),
    ({"quota_set": {"volumes___DEFAULT__": "1"}}, "volumes___DEFAULT__"),
    ({"quota_set": {"gigabytes___DEFAULT__": -2}}, "gigabytes___DEFAULT__"),
    ({"quota_set": {"snapshots___DEFAULT__": True}}, "snapshots___DEFAULT__"),
    ({"quota_set": {"volumes": 1}, "extra": 1}, "extra"),
    ({}, "quota_set"),
])
def test_bad_bodies_are_400_and_change_nothing(env, project, body, says):
    name, _ = project
    assert_fault(env.admin.request("PUT", f"/os-quota-sets/{name}", json=body), 400, says)
    assert wide(env.admin.ok("GET", f"/os-quota-sets/{name}")) == {"id": name, **DEFAULTS}


def test_per_type_keys_are_set_shown_and_checked_against_the_types_usage(env, project):
    name, user = project
    r = env.admin.request("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"volumes___DEFAULT__": 2}})
    assert r.status_code == 200, r.text
    assert wide(r.json(), volumes___DEFAULT__=2) == DEFAULTS
    user.create_volume(size=2)
    shown = user.ok("GET", f"/os-quota-sets/{name}", params={"usage": "True"})["quota_set"]
    assert shown["volumes___DEFAULT__"] == {"limit": 2, "in_use": 1, "reserved": 0, "allocated": 0}
    assert shown["gigabytes___DEFAULT__"] == {"limit": -1, "in_use": 2, "reserved": 0, "allocated": 0}
    assert_fault(env.admin.request("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"gigabytes___DEFAULT__": 1}}),
                 400, "Quota gigabytes___DEFAULT__ limit must be equal or greater than existing resources")
    user.create_volume(size=1)
    said = assert_fault(user.request("POST", "/volumes", json={"volume": {"size": 1}}), 413,
                        "Maximum number of volumes allowed (2) exceeded for quota 'volumes___DEFAULT__'.")
    assert said.startswith("VolumeLimitExceeded")
    assert len(user.ok("GET", "/volumes")["volumes"]) == 2  # nothing made


def test_an_update_below_usage_is_400(env, project):
    name, user = project
    user.create_volume()
    user.create_volume()
    assert_fault(env.admin.request("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"volumes": 1}}), 400,
                 "Current usage is 2 and the requested limit is 1")
    assert env.admin.ok("GET", f"/os-quota-sets/{name}")["quota_set"]["volumes"] == -1


def test_a_servers_quota_settings_are_its_defaults(make_env):
    own = make_env(VOLCLONE_QUOTA_VOLUMES="10", VOLCLONE_QUOTA_GIGABYTES="1000", VOLCLONE_QUOTA_SNAPSHOTS="0",
                   VOLCLONE_QUOTA_BACKUPS="0", VOLCLONE_QUOTA_GROUPS="3", VOLCLONE_QUOTA_PER_VOLUME_GIGABYTES="50")
    assert own.user.ok("GET", "/os-quota-sets/p1/defaults") == {"quota_set": {
        "id": "p1", "volumes": 10, "gigabytes": 1000, "snapshots": 0, "backups": 0, "backup_gigabytes": 1000,
        "groups": 3, "per_volume_gigabytes": 50,
        "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1, "snapshots___DEFAULT__": -1}}


def test_per_volume_gigabytes_caps_each_create_and_extend_not_the_total(env, project):
    name, user = project
    env.admin.ok("PUT", f"/os-quota-sets/{name}", json={"quota_set": {"per_volume_gigabytes": 2}})
    a, b = user.create_volume(size=2), user.create_volume(size=2)  # 4 GiB in all: only each volume is capped
    with creates_nothing(env.server):
        assert_fault(user.request("POST", "/volumes", json={"volume": {"size": 3}}), 413,
                     "VolumeSizeExceedsLimit: Requested volume size 3G is larger than maximum allowed limit 2G.")
    assert_fault(user.request("POST", f"/volumes/{a['id']}/action", json={"os-extend": {"new_size": 3}}), 413,
                 "Requested volume size 3G is larger than maximum allowed limit 2G")
    assert user.ok("GET", f"/volumes/{a['id']}")["volume"]["size"] == 2
    # Backups are not served, but their limits are kept and shown, as Cinder's are.
    limits = {"per_volume_gigabytes": -1, "backups": 3, "backup_gigabytes": 30}
    assert env.admin.ok("PUT", f"/os-quota-sets/{name}", json={"quota_set": limits})["quota_set"]["backups"] == 3
    user.ok("POST", f"/volumes/{b['id']}/action", json={"os-extend": {"new_size": 3}})
    shown = env.admin.ok("GET", f"/os-quota-sets/{name}")["quota_set"]
    assert {k: shown[k] for k in limits} == limits


def test_create_and_clone_over_quota_are_413_and_make_nothing(make_env):
    own = make_env(VOLCLONE_QUOTA_VOLUMES="3", VOLCLONE_QUOTA_GIGABYTES="8")
    a, b = own.user.create_volume(size=2), own.user.create_volume(size=2)
    with creates_nothing(own.server):
        assert_fault(own.user.request("POST", "/clone-volumes", json=clone_body([a["id"], b["id"]])), 413,
                     "Maximum number of volumes allowed (3) exceeded for quota 'volumes'")
        assert_fault(own.user.request("POST", "/volumes", json={"volume": {"size": 5}}), 413,
                     "exceeds allowed gigabytes quota. Requested 5G, quota is 8G and 4G has been consumed")
    assert own.server.db_rows("SELECT * FROM reservations") == []
    task = own.user.clone([a["id"]])
    assert own.user.wait(task)["flow_details"]["cloneFlow"] == "SUCCESS"
    with creates_nothing(own.server):
        assert_fault(own.user.request("POST", "/volumes", json={"volume": {"size": 1}}), 413, "quota 'volumes'")
    used = own.user.ok("GET", "/os-quota-sets/p1", params={"usage": "true"})["quota_set"]
    assert used["volumes"]["in_use"] == 3 and used["gigabytes"]["in_use"] == 6


def test_a_reverted_clone_frees_its_quota(make_env):
    own = make_env(VOLCLONE_QUOTA_VOLUMES="2", VOLCLONE_FAILPOINTS="create_group_clone")
    a = own.user.create_volume()
    assert own.user.wait(own.user.clone([a["id"]]))["flow_details"]["cloneFlow"] == "REVERTED"
    used = own.user.ok("GET", "/os-quota-sets/p1", params={"usage": "true"})["quota_set"]["volumes"]
    assert (used["in_use"], used["reserved"]) == (1, 0)
    assert own.server.db_rows("SELECT * FROM reservations") == []
    own.user.create_volume()  # the quota the revert freed
    assert_fault(own.user.request("POST", "/volumes", json={"volume": {"size": 1}}), 413, "quota 'volumes'")
