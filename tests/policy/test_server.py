"""Each persona against each endpoint, through a real server: every request is checked against
its named rule before its body is read, and a refusal names the rule and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.support import assert_fault, creates_nothing, unique
from volclone.api.snapshot_views import EXTENDED_ATTRIBUTES_RULE
from volclone.api.views import FIELD_RULES

from .conftest import ServerPersonas, start_with_personas

VOL = "3f0e1c1e-0000-4000-8000-0000000000a1"
TYPE = "3f0e1c1e-0000-4000-8000-0000000000a2"
TASK = "3f0e1c1e-0000-4000-8000-0000000000a3"
ATT = "3f0e1c1e-0000-4000-8000-0000000000a4"
SNAP = "3f0e1c1e-0000-4000-8000-0000000000a5"
XFER = "3f0e1c1e-0000-4000-8000-0000000000a6"
MSG = "3f0e1c1e-0000-4000-8000-0000000000a7"
QOS = "3f0e1c1e-0000-4000-8000-0000000000a8"
GT = "3f0e1c1e-0000-4000-8000-0000000000a9"
GRP = "3f0e1c1e-0000-4000-8000-0000000000aa"
NEW_ATTACH = {"OpenStack-API-Version": "volume 3.27"}
READ, WRITE, ADMIN = "read", "write", "admin"

#: (method, path under /v3/p1, body, the rule it needs, what kind of rule that is by default).
ENDPOINTS: list[tuple[str, str, Any, str, str]] = [
    ("GET", "/volumes", None, "volume:get_all", READ),
    ("GET", "/volumes/detail", None, "volume:get_all", READ),
    ("GET", "/volumes/summary", None, "volume:get_all", READ),
    ("POST", "/volumes", {"volume": {"size": 1}}, "volume:create", WRITE),
    ("GET", f"/volumes/{VOL}", None, "volume:get", READ),
    ("PUT", f"/volumes/{VOL}", {"volume": {"name": "y"}}, "volume:update", WRITE),
    ("DELETE", f"/volumes/{VOL}", None, "volume:delete", WRITE),
    ("GET", f"/volumes/{VOL}/metadata", None, "volume:get_volume_metadata", READ),
    ("GET", f"/volumes/{VOL}/metadata/k", None, "volume:get_volume_metadata", READ),
    ("POST", f"/volumes/{VOL}/metadata", {"metadata": {"k": "v"}}, "volume:create_volume_metadata", WRITE),
    ("PUT", f"/volumes/{VOL}/metadata", {"metadata": {"k": "v"}}, "volume:update_volume_metadata", WRITE),
    ("PUT", f"/volumes/{VOL}/metadata/k", {"meta": {"k": "v"}}, "volume:update_volume_metadata", WRITE),
    ("DELETE", f"/volumes/{VOL}/metadata/k", None, "volume:delete_volume_metadata", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-initialize_connection": {"connector": {"host": "h"}}},
     "volume_extension:volume_actions:initialize_connection", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-attach": {"mountpoint": "/dev/vdb"}},
     "volume_extension:volume_actions:attach", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-detach": {}}, "volume_extension:volume_actions:detach", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-terminate_connection": {"connector": {"host": "h"}}},
     "volume_extension:volume_actions:terminate_connection", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-flatten": {}}, "volume_extension:volume_actions:flatten", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-extend": {"new_size": 2}}, "volume:extend", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-set_bootable": {"bootable": True}}, "volume:update", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-retype": {"new_type": "__DEFAULT__"}}, "volume:retype", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-update_readonly_flag": {"readonly": True}},
     "volume:update_readonly_flag", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-reserve": None}, "volume_extension:volume_actions:reserve", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-unreserve": None}, "volume_extension:volume_actions:unreserve", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-begin_detaching": None},
     "volume_extension:volume_actions:begin_detaching", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-roll_detaching": None},
     "volume_extension:volume_actions:roll_detaching", WRITE),
    ("POST", f"/volumes/{VOL}/action", {"os-reset_status": {"status": "error"}},
     "volume_extension:volume_admin_actions:reset_status", ADMIN),
    ("POST", f"/volumes/{VOL}/action", {"os-force_delete": {}},
     "volume_extension:volume_admin_actions:force_delete", ADMIN),
    ("POST", "/attachments", {"attachment": {"volume_uuid": VOL}}, "volume:attachment_create", WRITE),
    ("GET", "/attachments", None, "volume:attachment_get_all", READ),
    ("GET", "/attachments/detail", None, "volume:attachment_get_all", READ),
    ("GET", f"/attachments/{ATT}", None, "volume:attachment_get", READ),
    ("PUT", f"/attachments/{ATT}", {"attachment": {"connector": {"host": "h"}}}, "volume:attachment_update", WRITE),
    ("POST", f"/attachments/{ATT}/action", {"os-complete": {}}, "volume:attachment_complete", WRITE),
    ("DELETE", f"/attachments/{ATT}", None, "volume:attachment_delete", WRITE),
    ("GET", "/types", None, "volume_extension:type_get_all", READ),
    ("GET", "/types/default", None, "volume_extension:type_get", READ),
    ("GET", f"/types/{TYPE}", None, "volume_extension:type_get", READ),
    ("POST", "/types", {"volume_type": {"name": "matrix"}}, "volume_extension:types_manage", ADMIN),
    ("DELETE", f"/types/{TYPE}", None, "volume_extension:types_manage", ADMIN),
    ("PUT", f"/types/{TYPE}", {"volume_type": {"name": "matrix"}}, "volume_extension:types_manage", ADMIN),
    ("GET", f"/types/{TYPE}/os-volume-type-access", None, "volume_extension:volume_type_access:get_all_for_type",
     ADMIN),
    ("POST", f"/types/{TYPE}/action", {"addProjectAccess": {"project": "p2"}},
     "volume_extension:volume_type_access:addProjectAccess", ADMIN),
    ("POST", f"/types/{TYPE}/action", {"removeProjectAccess": {"project": "p2"}},
     "volume_extension:volume_type_access:removeProjectAccess", ADMIN),
    ("GET", f"/types/{TYPE}/extra_specs", None, "volume_extension:types_extra_specs:index", READ),
    ("GET", f"/types/{TYPE}/extra_specs/k", None, "volume_extension:types_extra_specs:show", READ),
    ("POST", f"/types/{TYPE}/extra_specs", {"extra_specs": {"k": "v"}},
     "volume_extension:types_extra_specs:create", ADMIN),
    ("PUT", f"/types/{TYPE}/extra_specs/k", {"k": "v"}, "volume_extension:types_extra_specs:update", ADMIN),
    ("DELETE", f"/types/{TYPE}/extra_specs/k", None, "volume_extension:types_extra_specs:delete", ADMIN),
    ("POST", "/clone-volumes", {"clone-volumes": {"volumes": [VOL]}}, "clone_volumes:create", WRITE),
    ("GET", f"/clone-volumes/get_progress?action=clone-volumes&task_id={TASK}", None,
     "clone_volumes:get_progress", READ),
    ("POST", f"/clone-volumes/{TASK}/action", {"cancel": {}}, "clone_volumes:cancel", WRITE),
    ("POST", "/clone-volumes/revert", {"revert": {"task_id": TASK}}, "clone_volumes:revert", WRITE),
    ("GET", "/os-quota-sets/p1", None, "volume_extension:quotas:show", READ),
    ("GET", "/os-quota-sets/p1/defaults", None, "volume_extension:quotas:show", READ),
    # A limit far above what the tests make (their servers run without quotas otherwise).
    ("PUT", "/os-quota-sets/p1", {"quota_set": {"volumes": 100000}}, "volume_extension:quotas:update", ADMIN),
    ("DELETE", "/os-quota-sets/p1", None, "volume_extension:quotas:delete", ADMIN),
    ("GET", "/limits", None, "limits_extension:used_limits", READ),
    ("GET", "/os-services", None, "volume_extension:services:index", ADMIN),
    ("POST", "/os-volume-transfer", {"transfer": {"volume_id": VOL}}, "volume:create_transfer", WRITE),
    ("GET", "/os-volume-transfer", None, "volume:get_all_transfers", READ),
    ("GET", "/os-volume-transfer/detail", None, "volume:get_all_transfers", READ),
    ("GET", f"/os-volume-transfer/{XFER}", None, "volume:get_transfer", READ),
    ("POST", f"/os-volume-transfer/{XFER}/accept", {"accept": {"auth_key": "k"}}, "volume:accept_transfer", WRITE),
    ("DELETE", f"/os-volume-transfer/{XFER}", None, "volume:delete_transfer", WRITE),
    ("GET", "/messages", None, "message:get_all", READ),
    ("GET", f"/messages/{MSG}", None, "message:get", READ),
    ("DELETE", f"/messages/{MSG}", None, "message:delete", WRITE),
    ("GET", "/scheduler-stats/get_pools", None, "scheduler_extension:scheduler_stats:get_pools", ADMIN),
    ("GET", "/capabilities/nowhere@local", None, "volume_extension:capabilities", ADMIN),
    ("POST", "/snapshots", {"snapshot": {"volume_id": VOL}}, "volume:create_snapshot", WRITE),
    ("GET", "/snapshots", None, "volume:get_all_snapshots", READ),
    ("GET", "/snapshots/detail", None, "volume:get_all_snapshots", READ),
    ("GET", f"/snapshots/{SNAP}", None, "volume:get_snapshot", READ),
    ("PUT", f"/snapshots/{SNAP}", {"snapshot": {"name": "y"}}, "volume:update_snapshot", WRITE),
    ("DELETE", f"/snapshots/{SNAP}", None, "volume:delete_snapshot", WRITE),
    ("GET", f"/snapshots/{SNAP}/metadata", None, "volume:get_snapshot_metadata", READ),
    ("GET", f"/snapshots/{SNAP}/metadata/k", None, "volume:get_snapshot_metadata", READ),
    ("POST", f"/snapshots/{SNAP}/metadata", {"metadata": {"k": "v"}}, "volume:update_snapshot_metadata", WRITE),
    ("PUT", f"/snapshots/{SNAP}/metadata", {"metadata": {"k": "v"}}, "volume:update_snapshot_metadata", WRITE),
    ("PUT", f"/snapshots/{SNAP}/metadata/k", {"meta": {"k": "v"}}, "volume:update_snapshot_metadata", WRITE),
    ("DELETE", f"/snapshots/{SNAP}/metadata/k", None, "volume:delete_snapshot_metadata", WRITE),
    ("POST", f"/snapshots/{SNAP}/action", {"os-reset_status": {"status": "error"}},
     "volume_extension:snapshot_admin_actions:reset_status", ADMIN),
    ("POST", f"/snapshots/{SNAP}/action", {"os-force_delete": {}},
     "volume_extension:snapshot_admin_actions:force_delete", ADMIN),
    ("POST", f"/snapshots/{SNAP}/action", {"os-update_snapshot_status": {"status": "error"}},
     "snapshot_extension:snapshot_actions:update_snapshot_status", WRITE),
    ("GET", "/os-availability-zone", None, "volume_extension:availability_zone_list", READ),
    ("GET", "/extensions", None, "volume_extension:extensions_list", READ),
    ("GET", "/qos-specs", None, "volume_extension:qos_specs_manage:get_all", ADMIN),
    ("POST", "/qos-specs", {"qos_specs": {"name": "matrix"}}, "volume_extension:qos_specs_manage:create", ADMIN),
    ("GET", f"/qos-specs/{QOS}", None, "volume_extension:qos_specs_manage:get", ADMIN),
    ("PUT", f"/qos-specs/{QOS}", {"qos_specs": {"k": "v"}}, "volume_extension:qos_specs_manage:update", ADMIN),
    ("GET", f"/qos-specs/{QOS}/associate?vol_type_id={TYPE}", None, "volume_extension:qos_specs_manage:update",
     ADMIN),
    ("DELETE", f"/qos-specs/{QOS}", None, "volume_extension:qos_specs_manage:delete", ADMIN),
    ("PUT", f"/qos-specs/{QOS}/delete_keys", {"keys": ["k"]}, "volume_extension:qos_specs_manage:delete", ADMIN),
    ("GET", f"/types/{TYPE}/encryption", None, "volume_extension:volume_type_encryption:get", ADMIN),
    ("GET", f"/types/{TYPE}/encryption/cipher", None, "volume_extension:volume_type_encryption:get", ADMIN),
    ("POST", f"/types/{TYPE}/encryption", {"encryption": {"provider": "luks", "control_location": "front-end"}},
     "volume_extension:volume_type_encryption:create", ADMIN),
    ("PUT", f"/types/{TYPE}/encryption/provider", {"encryption": {"cipher": None}},
     "volume_extension:volume_type_encryption:update", ADMIN),
    ("DELETE", f"/types/{TYPE}/encryption/provider", None, "volume_extension:volume_type_encryption:delete",
     ADMIN),
    ("GET", "/resource_filters", None, "volume_extension:resource_filters", READ),
    ("PUT", "/os-services/set-log", {"level": "INFO", "prefix": "volclone.policy-test"},
     "volume_extension:services:update", ADMIN),
    ("PUT", "/os-services/get-log", {}, "volume_extension:services:update", ADMIN),
    # (bodies naming no service: nothing is disabled or frozen on the shared server)
    ("PUT", "/os-services/disable", {"host": "no-such-worker", "binary": "cinder-volume"},
     "volume_extension:services:update", ADMIN),
    ("PUT", "/os-services/freeze", {"host": "no-such-worker"}, "volume:freeze_host", ADMIN),
    ("PUT", "/os-services/thaw", {"host": "no-such-worker"}, "volume:thaw_host", ADMIN),
    ("GET", "/os-hosts", None, "volume_extension:hosts", ADMIN),
    ("GET", "/os-quota-class-sets/policy-test", None, "volume_extension:quota_classes", ADMIN),
    ("PUT", "/os-quota-class-sets/policy-test", {"quota_class_set": {"volumes": 5}},
     "volume_extension:quota_classes", ADMIN),
    ("PUT", "/default-types/p2", {"default_type": {"volume_type": TYPE}}, "volume_extension:default_set_or_update",
     ADMIN),
    ("GET", "/default-types/p2", None, "volume_extension:default_get", ADMIN),
    ("GET", "/default-types", None, "volume_extension:default_get_all", ADMIN),
    ("DELETE", "/default-types/p2", None, "volume_extension:default_unset", ADMIN),
    ("GET", "/group_types", None, "group:group_types:get", READ),
    ("GET", f"/group_types/{GT}", None, "group:group_types:get", READ),
    ("POST", "/group_types", {"group_type": {"name": "gmatrix"}}, "group:group_types:create", ADMIN),
    ("PUT", f"/group_types/{GT}", {"group_type": {"name": "gmatrix"}}, "group:group_types:update", ADMIN),
    ("DELETE", f"/group_types/{GT}", None, "group:group_types:delete", ADMIN),
    ("GET", f"/group_types/{GT}/group_specs", None, "group:group_types_specs:get_all", ADMIN),
    ("GET", f"/group_types/{GT}/group_specs/k", None, "group:group_types_specs:get", ADMIN),
    ("POST", f"/group_types/{GT}/group_specs", {"group_specs": {"k": "v"}}, "group:group_types_specs:create", ADMIN),
    ("PUT", f"/group_types/{GT}/group_specs/k", {"k": "v"}, "group:group_types_specs:update", ADMIN),
    ("DELETE", f"/group_types/{GT}/group_specs/k", None, "group:group_types_specs:delete", ADMIN),
    ("GET", "/groups", None, "group:get_all", READ),
    ("GET", "/groups/detail", None, "group:get_all", READ),
    ("POST", "/groups", {"group": {"group_type": GT, "volume_types": ["__DEFAULT__"]}}, "group:create", WRITE),
    ("GET", f"/groups/{GRP}", None, "group:get", READ),
    ("PUT", f"/groups/{GRP}", {"group": {"name": "y"}}, "group:update", WRITE),
    ("POST", f"/groups/{GRP}/action", {"delete": {}}, "group:delete", WRITE),
    ("POST", f"/groups/{GRP}/action", {"reset_status": {"status": "error"}}, "group:reset_status", ADMIN),
    ("POST", "/groups/action", {"create-from-src": {"source_group_id": GRP}}, "group:create_group_from_src", WRITE),
    ("GET", "/group_snapshots", None, "group:get_all_group_snapshots", READ),
    ("GET", "/group_snapshots/detail", None, "group:get_all_group_snapshots", READ),
    ("POST", "/group_snapshots", {"group_snapshot": {"group_id": GRP}}, "group:create_group_snapshot", WRITE),
    ("GET", f"/group_snapshots/{GRP}", None, "group:get_group_snapshot", READ),
    ("DELETE", f"/group_snapshots/{GRP}", None, "group:delete_group_snapshot", WRITE),
    ("POST", f"/group_snapshots/{GRP}/action", {"reset_status": {"status": "error"}},
     "group:reset_group_snapshot_status", ADMIN),
]
IDS = [f"{m} {p.split('?')[0]} {r.rsplit(':', 1)[-1]}" for m, p, _, r, _ in ENDPOINTS]
#: persona -> the kinds of rule it passes on project p1 by default
PASSES = {"admin": {READ, WRITE, ADMIN}, "member": {READ, WRITE}, "reader": {READ}, "member2": set(),
          "reader2": set()}


def call(s: ServerPersonas, token: str, method: str, path: str, body: Any, project: str = "p1",
         **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{s.env.server.url}/v3/{project}{path}", json=body, timeout=60,
                         headers={"X-Auth-Token": token, **NEW_ATTACH}, **kw)


def refused(rule: str) -> str:
    return f"Policy doesn't allow {rule} to be performed."


def test_the_table_covers_every_api_rule() -> None:
    from volclone.service.policy import API_RULES
    # The field rules guard no request: they decide which fields a body has (test_field_rules_...).
    # volume:extend_attached_volume guards os-extend of an in-use volume from microversion 3.42
    # (tests/unit/test_volume_actions.py);
    # so does volume:revert_to_snapshot (revert, 3.40: tests/unit/test_snapshots.py), and
    # os-extend_volume_completion (3.71: tests/unit/test_microversion_features.py): the table's
    # requests are at 3.27, where those actions are 404s for everyone, as in Cinder.
    assert {r[3] for r in ENDPOINTS} == {r.name for r in API_RULES} - set(FIELD_RULES) - {
        "volume:extend_attached_volume", "volume:revert_to_snapshot", EXTENDED_ATTRIBUTES_RULE,
        "volume_extension:volume_admin_actions:extend_volume_completion",
        "group:access_group_types_specs",  # a field rule too: group_specs in group type bodies
        "volume:multiattach", "volume:multiattach_bootable_volume"}  # by type and volume: test_multiattach.py


#: persona -> the fields of a volume's show and of a type's show that its field rules add, by default.
FIELDS = {
    "admin": ({"os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host", "os-vol-mig-status-attr:migstat",
               "os-vol-mig-status-attr:name_id", "migration_status"},
              {"qos_specs_id", "os-volume-type-access:is_public"}),
    "member": ({"os-vol-tenant-attr:tenant_id"}, {"os-volume-type-access:is_public"}),
    "reader": ({"os-vol-tenant-attr:tenant_id"}, set()),
}
OPTIONAL_VOLUME = set().union(*(f[0] for f in FIELDS.values()))
OPTIONAL_TYPE = set().union(*(f[1] for f in FIELDS.values()))


def test_field_rules_decide_what_each_persona_sees(server):
    vol = server.env.admin.create_volume(1, unique())
    try:
        for persona, (vol_fields, type_fields) in FIELDS.items():
            api = server.env.server.client(getattr(server.tokens, persona), "p1")
            shown = api.ok("GET", f"/volumes/{vol['id']}")["volume"]
            assert set(shown) & OPTIONAL_VOLUME == vol_fields, persona
            [listed] = [v for v in api.ok("GET", "/volumes/detail")["volumes"] if v["id"] == vol["id"]]
            assert set(listed) & OPTIONAL_VOLUME == vol_fields, persona
            default = api.ok("GET", "/types/default")["volume_type"]
            assert set(default) & OPTIONAL_TYPE == type_fields, persona
    finally:
        server.env.admin.ok("DELETE", f"/volumes/{vol['id']}")


@pytest.mark.parametrize("persona", list(PASSES))
@pytest.mark.parametrize("method, path, body, rule, kind", ENDPOINTS, ids=IDS)
def test_each_persona_against_each_endpoint(server, persona, method, path, body, rule, kind):
    token = getattr(server.tokens, persona)
    if kind in PASSES[persona]:
        r = call(server, token, method, path, body)
        assert r.status_code != 403 and r.status_code < 500, r.text
        if r.status_code == 202 and method == "POST" and path == "/volumes":  # leave the pool as it was
            server.env.admin.ok("DELETE", f"/volumes/{r.json()['volume']['id']}")
        if r.status_code == 200 and method == "POST" and path == "/types":
            server.env.admin.ok("DELETE", f"/types/{r.json()['volume_type']['id']}")
        if r.status_code == 200 and method == "POST" and path == "/qos-specs":
            server.env.admin.request("DELETE", f"/qos-specs/{r.json()['qos_specs']['id']}")
        if r.status_code == 202 and method == "POST" and path == "/group_types":
            server.env.admin.ok("DELETE", f"/group_types/{r.json()['group_type']['id']}",
                                headers={"OpenStack-API-Version": "volume 3.11"})
        return
    # A stranger to p1 is refused by the route's rule; for a volume action that is volume:get (for a
    # type action volume_extension:type_get, a snapshot action volume:get_snapshot, a group action
    # group:get), which a reader
    # of p1 passes before its action's own rule refuses it (as Cinder does).
    expected = rule
    if path.endswith("/action") and path.count("/") > 2 and persona.endswith("2"):  # not /groups/action
        expected = {"volumes": "volume:get", "types": "volume_extension:type_get",
                    "snapshots": "volume:get_snapshot", "groups": "group:get"}.get(path.split("/")[1], rule)
    with creates_nothing(server.env.server):
        r = call(server, token, method, path, body)
    assert assert_fault(r, 403) == refused(expected)


def test_a_refusal_comes_before_the_body_is_read(server):
    """auth (401), then policy (403), then validation (400)."""
    url = f"{server.env.server.url}/v3/p1/volumes"
    bad = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    assert_fault(httpx.post(url, **bad), 401)
    for token in (server.tokens.reader, server.tokens.member2):
        r = httpx.post(url, content=bad["content"], headers={**bad["headers"], "X-Auth-Token": token})
        assert assert_fault(r, 403) == refused("volume:create")
    r = httpx.post(url, content=bad["content"], headers={**bad["headers"], "X-Auth-Token": server.tokens.member})
    assert_fault(r, 400, "JSON")


def test_a_reader_reads_but_does_not_write(server):
    s, t = server, server.tokens
    member = s.env.server.client(t.member, "p1")
    reader = s.env.server.client(t.reader, "p1")
    vol = member.create_volume(1, unique())
    task = member.clone([vol["id"]])
    member.wait(task)
    try:
        assert vol["id"] in {v["id"] for v in reader.ok("GET", "/volumes")["volumes"]}
        assert reader.ok("GET", f"/volumes/{vol['id']}")["volume"]["id"] == vol["id"]
        assert reader.progress(task)["flow_details"]["cloneFlow"] == "SUCCESS"
        with creates_nothing(s.env.server):
            assert_fault(reader.request("POST", "/volumes", json={"volume": {"size": 1}}), 403, "volume:create")
            assert_fault(reader.request("DELETE", f"/volumes/{vol['id']}"), 403, "volume:delete")
            assert_fault(reader.request("POST", "/clone-volumes", json={"clone-volumes": {"volumes": [vol["id"]]}}),
                         403, "clone_volumes:create")
            assert_fault(reader.request("POST", f"/volumes/{vol['id']}/action",
                                        json={"os-initialize_connection": {"connector": {"host": "h"}}}),
                         403, "volume_actions:initialize_connection")
            assert_fault(reader.request("POST", "/attachments", headers=NEW_ATTACH,
                                        json={"attachment": {"volume_uuid": vol["id"]}}), 403,
                         "volume:attachment_create")
        assert member.ok("GET", f"/volumes/{vol['id']}")["volume"]["status"] == "available"
    finally:
        for v in member.ok("GET", "/volumes/detail")["volumes"]:
            member.request("DELETE", f"/volumes/{v['id']}")


def test_a_member_acts_in_its_own_project_and_an_admin_in_any(server):
    t = server.tokens
    member2 = server.env.server.client(t.member2, "p2")
    theirs = member2.create_volume(1, unique())
    try:
        # p1's member can't reach p2's volume at all, not even to see it.
        with creates_nothing(server.env.server):
            for method, path in (("GET", f"/volumes/{theirs['id']}"), ("DELETE", f"/volumes/{theirs['id']}")):
                rule = "volume:get" if method == "GET" else "volume:delete"
                assert assert_fault(call(server, t.member, method, path, None, project="p2"), 403) == refused(rule)
        admin_on_p2 = server.env.server.client(t.admin, "p2")
        task = admin_on_p2.clone([theirs["id"]])
        assert admin_on_p2.wait(task)["flow_details"]["cloneFlow"] == "SUCCESS"
        assert len(member2.ok("GET", "/volumes")["volumes"]) == 2  # the admin's clone is p2's
    finally:
        for v in member2.ok("GET", "/volumes/detail")["volumes"]:
            member2.request("DELETE", f"/volumes/{v['id']}")


def test_admin_views_follow_context_is_admin(server):
    """all_tenants lists every project's volumes for an admin only."""
    member2 = server.env.server.client(server.tokens.member2, "p2")
    theirs = member2.create_volume(1, unique())
    try:
        seen_by_admin = server.env.server.client(server.tokens.admin, "p1").ok("GET", "/volumes?all_tenants=1")
        seen_by_member = server.env.server.client(server.tokens.member, "p1").ok("GET", "/volumes?all_tenants=1")
        assert theirs["id"] in {v["id"] for v in seen_by_admin["volumes"]}
        assert theirs["id"] not in {v["id"] for v in seen_by_member["volumes"]}
    finally:
        member2.request("DELETE", f"/volumes/{theirs['id']}")


def test_an_operators_policy_file_overrides_the_defaults(tmp_path_factory):
    """A reader may create volumes, members may not clone: VOLCLONE_POLICY_FILE on a real server."""
    tmp = tmp_path_factory.mktemp("override")
    policy = tmp / "policy.yaml"
    policy.write_text('"volume:create": "rule:admin_or_project_reader"\n'
                      '"clone_volumes:create": "rule:context_is_admin"\n'
                      '"volume:multiattach": "rule:context_is_admin"\n')
    s = start_with_personas(tmp / "data", VOLCLONE_POLICY_FILE=str(policy))
    try:
        reader = s.env.server.client(s.tokens.reader, "p1")
        member = s.env.server.client(s.tokens.member, "p1")
        vol = reader.create_volume(1, unique())  # the override lets a reader create
        assert_fault(reader.request("DELETE", f"/volumes/{vol['id']}"), 403, "volume:delete")  # still the default
        with creates_nothing(s.env.server):
            r = member.request("POST", "/clone-volumes", json={"clone-volumes": {"volumes": [vol["id"]]}})
            assert assert_fault(r, 403) == refused("clone_volumes:create")
        assert s.env.admin.wait(s.env.admin.clone([vol["id"]]))["flow_details"]["cloneFlow"] == "SUCCESS"
        # A rule the service checks once it knows the type: a multiattach type's volumes are the admin's to make.
        multi = unique()
        created = s.env.admin.request("POST", "/types", json={"volume_type": {
            "name": multi, "extra_specs": {"multiattach": "<is> True"}}})
        assert created.status_code == 200, created.text
        with creates_nothing(s.env.server):
            r = member.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": multi}})
            assert assert_fault(r, 403) == refused("volume:multiattach")
        # Other projects stay out of reach under the override.
        assert assert_fault(call(s, s.tokens.reader2, "POST", "/volumes", {"volume": {"size": 1}}), 403) == \
            refused("volume:create")
    finally:
        s.env.server.stop()
