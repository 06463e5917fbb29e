"""The rules themselves, in process: the default personas, operators' overrides, the defaults
command, and every API route guarded by a registered rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.routing import APIRoute

from conftest import run_cli
from volclone.api import create_app, deps
from volclone.api.group_types import SPECS_RULE as GROUP_SPECS_RULE
from volclone.api.groups import DELETE_RULE as GROUP_DELETE_RULE
from volclone.api.groups import RESET_STATUS_RULE as GROUP_RESET_STATUS_RULE
from volclone.api.snapshot_views import EXTENDED_ATTRIBUTES_RULE
from volclone.api.snapshots import ACTION_RULES as SNAPSHOT_ACTION_RULES
from volclone.api.types import ACTION_RULES as TYPE_ACTION_RULES
from volclone.api.views import FIELD_RULES
from volclone.api.volume_actions import ACTION_RULES, EXTEND_ATTACHED_RULE
from volclone.domain import Principal
from volclone.errors import Forbidden
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES
from volclone.service.multiattach import BOOTABLE_RULE as MULTIATTACH_BOOTABLE_RULE
from volclone.service.multiattach import CREATE_RULE as MULTIATTACH_CREATE_RULE
from volclone.service.policy import API_RULES, RULES, Policy, PolicyFileError, defaults_yaml

ADMIN = Principal("admin", True, ADMIN_ROLES)
MEMBER = Principal("p1", False, MEMBER_ROLES)
READER = Principal("p1", False, READER_ROLES)
#: What a Keystone token with only Keystone's 'member' role (no implied reader) would carry.
BARE_MEMBER = Principal("p1", False, frozenset({"member"}))
NOBODY = Principal("p1", False, frozenset())

READS = ["volume:get", "volume:get_all", "volume:get_volume_metadata", "volume:attachment_get",
         "volume:attachment_get_all", "volume_extension:type_get", "volume_extension:type_get_all",
         "volume_extension:types_extra_specs:index", "volume_extension:types_extra_specs:show",
         "clone_volumes:get_progress", "volume_extension:quotas:show", "limits_extension:used_limits",
         "volume_extension:volume_tenant_attribute", "volume:get_snapshot", "volume:get_all_snapshots",
         "volume:get_snapshot_metadata", EXTENDED_ATTRIBUTES_RULE,
         "volume_extension:availability_zone_list", "volume_extension:extensions_list",
         "volume:get_all_transfers", "volume:get_transfer", "message:get_all", "message:get",
         "volume_extension:resource_filters",
         "group:group_types:get", "group:get_all", "group:get", "group:get_all_group_snapshots",
         "group:get_group_snapshot"]
WRITES = ["volume:create", "volume:update", "volume:delete", "volume:create_volume_metadata",
          "volume:update_volume_metadata", "volume:delete_volume_metadata", "volume:attachment_create",
          "volume:attachment_update", "volume:attachment_complete", "volume:attachment_delete",
          "clone_volumes:create", "clone_volumes:cancel", "clone_volumes:revert", EXTEND_ATTACHED_RULE,
          "volume_extension:volume_type_access",
          "volume:create_snapshot", "volume:update_snapshot", "volume:delete_snapshot",
          "volume:update_snapshot_metadata", "volume:delete_snapshot_metadata",
          "volume:create_transfer", "volume:accept_transfer", "volume:delete_transfer", "message:delete",
          "group:create", "group:update", "group:delete", "group:create_group_snapshot", "group:delete_group_snapshot",
          "snapshot_extension:snapshot_actions:update_snapshot_status",
          "group:create_group_from_src", MULTIATTACH_CREATE_RULE, MULTIATTACH_BOOTABLE_RULE,
          *sorted(r for r in set(ACTION_RULES.values()) - {"volume:update"} if "admin_actions" not in r)]
ADMIN_ONLY = ["volume_extension:volume_admin_actions:reset_status",
              "volume_extension:volume_admin_actions:force_delete", "volume_extension:types_manage",
              "volume_extension:types_extra_specs:create",
              "volume_extension:types_extra_specs:update", "volume_extension:types_extra_specs:delete",
              "volume_extension:quotas:update", "volume_extension:quotas:delete", "volume_extension:services:index",
              "volume_extension:services:update", "volume:freeze_host", "volume:thaw_host", "volume_extension:hosts",
              "volume_extension:quota_classes", "volume_extension:volume_admin_actions:extend_volume_completion",
              "volume_extension:default_set_or_update", "volume_extension:default_get",
              "volume_extension:default_get_all", "volume_extension:default_unset",
              "volume_extension:volume_host_attribute", "volume_extension:volume_mig_status_attribute",
              "volume_extension:access_types_qos_specs_id", "volume_extension:volume_type_access:get_all_for_type",
              "scheduler_extension:scheduler_stats:get_pools", "volume_extension:capabilities",
              *(f"volume_extension:qos_specs_manage:{op}" for op in ("get_all", "get", "create", "update", "delete")),
              *TYPE_ACTION_RULES.values(),
              *(r for r in SNAPSHOT_ACTION_RULES.values() if "admin_actions" in r),
              *(f"volume_extension:volume_type_encryption:{op}" for op in ("get", "create", "update", "delete")),
              "group:group_types:create", "group:group_types:update", "group:group_types:delete", "group:reset_status",
              "group:reset_group_snapshot_status",
              "group:access_group_types_specs", "group:group_types_specs:get_all", "group:group_types_specs:get",
              "group:group_types_specs:create", "group:group_types_specs:update", "group:group_types_specs:delete"]


def test_every_api_rule_is_a_read_a_write_or_admin_only() -> None:
    assert sorted(READS + WRITES + ADMIN_ONLY) == sorted(r.name for r in API_RULES)


@pytest.mark.parametrize("rule", READS + WRITES + ADMIN_ONLY)
def test_default_personas(rule: str) -> None:
    policy = Policy()
    # An admin acts on every project.
    assert policy.allows(rule, ADMIN, "p1") and policy.allows(rule, ADMIN, "p2")
    # A member reads and writes its own project, never another's; nothing admin-only.
    assert policy.allows(rule, MEMBER, "p1") is (rule not in ADMIN_ONLY)
    assert policy.allows(rule, BARE_MEMBER, "p1") is (rule in WRITES)
    assert not policy.allows(rule, MEMBER, "p2")
    # A reader only reads its own project.
    assert policy.allows(rule, READER, "p1") is (rule in READS)
    assert not policy.allows(rule, READER, "p2")
    assert not policy.allows(rule, NOBODY, "p1")


def test_is_admin_is_the_context_is_admin_rule(tmp_path: Path) -> None:
    assert Policy().is_admin(ADMIN) and not Policy().is_admin(MEMBER)
    f = tmp_path / "policy.yaml"
    f.write_text('"context_is_admin": "role:cloud_admin"\n')
    assert not Policy(f).is_admin(ADMIN)
    assert Policy(f).is_admin(Principal("ops", False, frozenset({"cloud_admin"})))


def test_a_403_names_the_rule() -> None:
    with pytest.raises(Forbidden) as exc:
        Policy().authorize("volume:create", READER, "p1")
    assert exc.value.status == 403
    assert exc.value.message == "Policy doesn't allow volume:create to be performed."


def test_an_override_replaces_one_rule_and_keeps_the_others(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text('"volume:create": "rule:admin_or_project_reader"\n"clone_volumes:create": "rule:context_is_admin"\n')
    policy = Policy(f)
    assert policy.allows("volume:create", READER, "p1") and not policy.allows("volume:create", READER, "p2")
    assert not policy.allows("clone_volumes:create", MEMBER, "p1") and policy.allows("clone_volumes:create", ADMIN)
    assert not policy.allows("volume:delete", READER, "p1") and policy.allows("volume:delete", MEMBER, "p1")


def test_the_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text('"volume:create": "rule:admin_or_project_reader"\n')
    policy = Policy(f)
    assert policy.allows("volume:create", READER, "p1")
    f.write_text('"volume:create": "!"\n')
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # a later mtime, whatever the clock
    assert not policy.allows("volume:create", MEMBER, "p1")
    f.write_text("{}\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 4_000_000_000))
    assert policy.allows("volume:create", MEMBER, "p1")  # the default is back


def test_a_missing_or_broken_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="does not exist"):
        Policy(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text('"volume:create": [\n')
    with pytest.raises(PolicyFileError, match="could not be loaded"):
        Policy(bad)


def test_a_file_broken_while_running_fails_closed(tmp_path: Path) -> None:
    f = tmp_path / "policy.yaml"
    f.write_text("{}\n")
    policy = Policy(f)
    f.write_text('"volume:create": [\n')
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    with pytest.raises(PolicyFileError) as exc:
        policy.allows("volume:get", MEMBER, "p1")
    assert exc.value.status == 500 and str(tmp_path) not in exc.value.message


def test_policy_defaults_lists_every_rule_as_yaml(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "policy", "defaults").stdout
    assert out == defaults_yaml()
    parsed = yaml.safe_load(out)
    assert parsed == {r.name: r.check_str for r in RULES}
    # Each rule comes with its description, and an API rule with the operations it guards.
    assert "# Create a volume.\n#   POST  /v3/{project_id}/volumes\n\"volume:create\":" in out
    # It is a policy.yaml an operator can start from: loaded, it is the defaults.
    f = tmp_path / "policy.yaml"
    f.write_text(out)
    assert Policy(f).allows("volume:create", MEMBER, "p1") and not Policy(f).allows("volume:create", READER, "p1")


def test_a_token_is_admin_member_or_reader(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "token", "create", "--project", "p1", "--admin", "--reader", check=False)
    assert r.returncode == 2 and "exclude each other" in r.stderr
    r = run_cli(tmp_path, "token", "create", "--project", "p1", "--reader")
    assert "(reader: reader)" in r.stderr


class _NoService:
    """create_app only keeps the service; walking the routes needs none."""


def _api_routes() -> list[APIRoute]:
    routes = deps.api_routes(create_app(_NoService(), manage_lifecycle=False, max_request_bytes=1))  # type: ignore[arg-type]
    return [r for r in routes if isinstance(r, APIRoute)]


def test_every_api_route_is_guarded_by_a_registered_rule() -> None:
    registered = {r.name for r in RULES}
    routes = _api_routes()
    unguarded = [f"{sorted(r.methods)} {r.path}" for r in routes
                 if not deps.is_public(r.path) and deps.rule_of(r) not in registered]
    assert not unguarded
    # The public ones are the version documents only.
    assert {r.path for r in routes if deps.is_public(r.path)} == {"/", "/v3", "/v3/"}


def test_every_documented_operation_is_a_route_the_middleware_sees() -> None:
    app = create_app(_NoService(), manage_lifecycle=False, max_request_bytes=1)  # type: ignore[arg-type]
    seen = {(m, r.path) for r in _api_routes() for m in r.methods}
    documented = {(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item}
    assert documented <= seen


def test_every_api_rule_guards_something() -> None:
    used = {deps.rule_of(r) for r in _api_routes()} | set(ACTION_RULES.values()) | set(TYPE_ACTION_RULES.values())
    used |= set(SNAPSHOT_ACTION_RULES.values()) | {GROUP_DELETE_RULE, GROUP_RESET_STATUS_RULE, GROUP_SPECS_RULE}
    used |= set(FIELD_RULES) | {EXTEND_ATTACHED_RULE, EXTENDED_ATTRIBUTES_RULE}  # fields of a body; 3.42's
    used |= {MULTIATTACH_CREATE_RULE, MULTIATTACH_BOOTABLE_RULE}  # the service checks them (a type's, a volume's)
    assert {r.name for r in API_RULES} <= used


def test_cli_serve_refuses_a_missing_policy_file(tmp_path: Path) -> None:
    env = {**os.environ, "VOLCLONE_DATA_DIR": str(tmp_path), "VOLCLONE_POLICY_FILE": str(tmp_path / "nope.yaml")}
    r = subprocess.run([str(Path(sys.executable).parent / "volclone"), "serve", "--port", "1"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr
