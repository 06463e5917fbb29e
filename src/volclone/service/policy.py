"""Who may do what: oslo.policy rules, as Cinder names and writes them.

Every API operation is checked against one named rule (the routers name it). The defaults give
Keystone's three default roles Cinder's personas::

    admin    acts on every project (rule ``context_is_admin``: ``role:admin``)
    member   reads and writes its own project   (``role:member and project_id:%(project_id)s``)
    reader   only reads its own project         (``role:reader and project_id:%(project_id)s``)

Keystone gives a member the reader role too (roles imply roles), and local tokens carry the same
sets: admin {admin, member, reader}, project {member, reader}, ``--reader`` {reader}. Operators
override any rule in a ``policy.yaml`` (``VOLCLONE_POLICY_FILE``); ``volclone policy defaults``
prints every rule with its default and description, a file to start from::

    policy = Policy(Path("/etc/volclone/policy.yaml"))
    policy.authorize("volume:create", who, project_id)   # Forbidden names the rule
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from oslo_config import cfg
from oslo_policy import policy as oslo

from volclone.domain import Principal
from volclone.errors import Forbidden, VolcloneError

log = logging.getLogger(__name__)

# -- personas: the building blocks the API rules use ----------------------------------------
ADMIN = "rule:context_is_admin"
ADMIN_OR_READER = "rule:admin_or_project_reader"
ADMIN_OR_MEMBER = "rule:admin_or_project_member"
ADMIN_API = "rule:admin_api"

BASE_RULES = [
    oslo.RuleDefault("context_is_admin", "role:admin",
                     description="Who is an admin: acts on every project, lists every project's volumes "
                                 "and attachments (all_tenants), sees private volume types and every "
                                 "extra spec."),
    oslo.RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                     description="A reader of the project the request acts on."),
    oslo.RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                     description="A member of the project the request acts on."),
    oslo.RuleDefault("admin_or_project_reader", f"{ADMIN} or rule:project_reader",
                     description="Personas: admin, project member, project reader (reads)."),
    oslo.RuleDefault("admin_or_project_member", f"{ADMIN} or rule:project_member",
                     description="Personas: admin and project member (writes)."),
    oslo.RuleDefault("admin_api", ADMIN, description="Admin-only operations."),
]


def _rule(name: str, check: str, description: str, *operations: str) -> oslo.DocumentedRuleDefault:
    ops: list[oslo.Operation] = []
    for op in operations:
        method, path = op.split(" ", 1)
        ops.append(oslo.Operation(method=method, path=path))
    return oslo.DocumentedRuleDefault(name=name, check_str=check, description=description, operations=ops)


API_RULES = [
    # volumes
    _rule("volume:create", ADMIN_OR_MEMBER, "Create a volume.", "POST /volumes"),
    _rule("volume:multiattach", ADMIN_OR_MEMBER,
          "Make a multiattach volume: create one of a type with multiattach=\"<is> True\", or retype to one.",
          "POST /volumes", "POST /volumes/{volume_id}/action (os-retype)"),
    _rule("volume:get_all", ADMIN_OR_READER, "List volumes, and sum them up.", "GET /volumes",
          "GET /volumes/detail", "GET /volumes/summary"),
    _rule("volume:get", ADMIN_OR_READER,
          "Show a volume. Volume actions need it too (you act on a volume you can see), before their own rule.",
          "GET /volumes/{volume_id}", "POST /volumes/{volume_id}/action"),
    _rule("volume:update", ADMIN_OR_MEMBER, "Update a volume's name, description or metadata, or its bootable flag.",
          "PUT /volumes/{volume_id}", "POST /volumes/{volume_id}/action (os-set_bootable)"),
    _rule("volume:delete", ADMIN_OR_MEMBER, "Delete a volume.", "DELETE /volumes/{volume_id}"),
    # fields of a volume's record (no route of their own: they decide what a show or detailed list shows)
    _rule("volume_extension:volume_tenant_attribute", ADMIN_OR_READER,
          "Show the volume's project (os-vol-tenant-attr:tenant_id) in volume shows and detailed lists.",
          "GET /volumes/{volume_id}", "GET /volumes/detail"),
    _rule("volume_extension:volume_host_attribute", ADMIN_API,
          "Show the volume's host (os-vol-host-attr:host) in volume shows and detailed lists.",
          "GET /volumes/{volume_id}", "GET /volumes/detail"),
    _rule("volume_extension:volume_mig_status_attribute", ADMIN_API,
          "Show the volume's migration status (os-vol-mig-status-attr:migstat, :name_id) in volume shows "
          "and detailed lists.", "GET /volumes/{volume_id}", "GET /volumes/detail"),
    # volume metadata
    _rule("volume:get_volume_metadata", ADMIN_OR_READER, "Show a volume's metadata or one item of it.",
          "GET /volumes/{volume_id}/metadata", "GET /volumes/{volume_id}/metadata/{key}"),
    _rule("volume:create_volume_metadata", ADMIN_OR_MEMBER, "Add metadata items to a volume.",
          "POST /volumes/{volume_id}/metadata"),
    _rule("volume:update_volume_metadata", ADMIN_OR_MEMBER, "Replace a volume's metadata, or set one item.",
          "PUT /volumes/{volume_id}/metadata", "PUT /volumes/{volume_id}/metadata/{key}"),
    _rule("volume:delete_volume_metadata", ADMIN_OR_MEMBER, "Delete one metadata item of a volume.",
          "DELETE /volumes/{volume_id}/metadata/{key}"),
    # volume actions (each also needs volume:get)
    _rule("volume_extension:volume_actions:initialize_connection", ADMIN_OR_MEMBER,
          "Connect a volume: get its connection_info.", "POST /volumes/{volume_id}/action (os-initialize_connection)"),
    _rule("volume_extension:volume_actions:attach", ADMIN_OR_MEMBER, "Mark a volume attached.",
          "POST /volumes/{volume_id}/action (os-attach)"),
    _rule("volume_extension:volume_actions:detach", ADMIN_OR_MEMBER, "Detach a volume.",
          "POST /volumes/{volume_id}/action (os-detach)"),
    _rule("volume_extension:volume_actions:terminate_connection", ADMIN_OR_MEMBER,
          "Disconnect a volume.", "POST /volumes/{volume_id}/action (os-terminate_connection)"),
    _rule("volume_extension:volume_actions:flatten", ADMIN_OR_MEMBER,
          "Make a volume independent of the layers below its own (volclone's os-flatten).",
          "POST /volumes/{volume_id}/action (os-flatten)"),
    _rule("volume_extension:volume_actions:reserve", ADMIN_OR_MEMBER, "Mark a volume reserved (attaching).",
          "POST /volumes/{volume_id}/action (os-reserve)"),
    _rule("volume_extension:volume_actions:unreserve", ADMIN_OR_MEMBER, "Unmark a volume reserved.",
          "POST /volumes/{volume_id}/action (os-unreserve)"),
    _rule("volume_extension:volume_actions:begin_detaching", ADMIN_OR_MEMBER, "Begin to detach a volume (detaching).",
          "POST /volumes/{volume_id}/action (os-begin_detaching)"),
    _rule("volume_extension:volume_actions:roll_detaching", ADMIN_OR_MEMBER,
          "Roll a volume's status back from detaching to in-use.",
          "POST /volumes/{volume_id}/action (os-roll_detaching)"),
    _rule("volume:extend", ADMIN_OR_MEMBER, "Extend a volume.", "POST /volumes/{volume_id}/action (os-extend)"),
    _rule("volume:extend_attached_volume", ADMIN_OR_MEMBER,
          "Extend an attached (in-use) volume: os-extend at microversion 3.42 or later.",
          "POST /volumes/{volume_id}/action (os-extend)"),
    _rule("volume:retype", ADMIN_OR_MEMBER, "Retype a volume (onto another backend: migrate its data).",
          "POST /volumes/{volume_id}/action (os-retype)"),
    _rule("volume:update_readonly_flag", ADMIN_OR_MEMBER, "Update a volume's readonly flag.",
          "POST /volumes/{volume_id}/action (os-update_readonly_flag)"),
    _rule("volume_extension:volume_admin_actions:reset_status", ADMIN_API,
          "Reset a volume's status, attach_status or migration_status.",
          "POST /volumes/{volume_id}/action (os-reset_status)"),
    _rule("volume_extension:volume_admin_actions:force_delete", ADMIN_API,
          "Delete a volume whatever its status (not one attached or being cloned).",
          "POST /volumes/{volume_id}/action (os-force_delete)"),
    _rule("volume_extension:volume_admin_actions:extend_volume_completion", ADMIN_API,
          "Complete an extend Nova was handed (microversion 3.71; no volclone volume ever waits for one).",
          "POST /volumes/{volume_id}/action (os-extend_volume_completion)"),
    _rule("volume:revert_to_snapshot", ADMIN_OR_MEMBER,
          "Revert a volume to its latest snapshot (microversion 3.40).",
          "POST /volumes/{volume_id}/action (revert)"),
    # snapshots
    _rule("volume:create_snapshot", ADMIN_OR_MEMBER, "Create a snapshot of a volume.", "POST /snapshots"),
    _rule("volume:get_all_snapshots", ADMIN_OR_READER, "List snapshots.", "GET /snapshots", "GET /snapshots/detail"),
    _rule("volume:get_snapshot", ADMIN_OR_READER,
          "Show a snapshot. Snapshot actions need it too, before their own rule.",
          "GET /snapshots/{snapshot_id}", "POST /snapshots/{snapshot_id}/action"),
    _rule("volume:update_snapshot", ADMIN_OR_MEMBER, "Update a snapshot's name or description.",
          "PUT /snapshots/{snapshot_id}"),
    _rule("volume:delete_snapshot", ADMIN_OR_MEMBER, "Delete a snapshot.", "DELETE /snapshots/{snapshot_id}"),
    _rule("volume_extension:extended_snapshot_attributes", ADMIN_OR_READER,
          "Show a snapshot's progress and project (os-extended-snapshot-attributes:*) in snapshot shows and "
          "detailed lists.", "GET /snapshots/{snapshot_id}", "GET /snapshots/detail"),
    _rule("volume:get_snapshot_metadata", ADMIN_OR_READER, "Show a snapshot's metadata or one item of it.",
          "GET /snapshots/{snapshot_id}/metadata", "GET /snapshots/{snapshot_id}/metadata/{key}"),
    _rule("volume:update_snapshot_metadata", ADMIN_OR_MEMBER, "Add, replace or set a snapshot's metadata items.",
          "POST /snapshots/{snapshot_id}/metadata", "PUT /snapshots/{snapshot_id}/metadata",
          "PUT /snapshots/{snapshot_id}/metadata/{key}"),
    _rule("volume:delete_snapshot_metadata", ADMIN_OR_MEMBER, "Delete one metadata item of a snapshot.",
          "DELETE /snapshots/{snapshot_id}/metadata/{key}"),
    _rule("volume_extension:snapshot_admin_actions:reset_status", ADMIN_API, "Reset a snapshot's status.",
          "POST /snapshots/{snapshot_id}/action (os-reset_status)"),
    _rule("volume_extension:snapshot_admin_actions:force_delete", ADMIN_API,
          "Delete a snapshot whatever its status.", "POST /snapshots/{snapshot_id}/action (os-force_delete)"),
    _rule("snapshot_extension:snapshot_actions:update_snapshot_status", ADMIN_OR_MEMBER,
          "Report a snapshot's status and progress while it is created or deleted (its allowed transitions).",
          "POST /snapshots/{snapshot_id}/action (os-update_snapshot_status)"),
    # volume transfers (os-volume-transfer; volume-transfers from 3.55)
    _rule("volume:create_transfer", ADMIN_OR_MEMBER, "Offer a volume to another project (a volume transfer).",
          "POST /os-volume-transfer", "POST /volume-transfers"),
    _rule("volume:get_all_transfers", ADMIN_OR_READER, "List the project's open volume transfers.",
          "GET /os-volume-transfer", "GET /os-volume-transfer/detail", "GET /volume-transfers",
          "GET /volume-transfers/detail"),
    _rule("volume:get_transfer", ADMIN_OR_READER, "Show a volume transfer.",
          "GET /os-volume-transfer/{transfer_id}", "GET /volume-transfers/{transfer_id}"),
    _rule("volume:accept_transfer", ADMIN_OR_MEMBER,
          "Accept a volume transfer with its auth key: the volume becomes the accepting project's.",
          "POST /os-volume-transfer/{transfer_id}/accept", "POST /volume-transfers/{transfer_id}/accept"),
    _rule("volume:delete_transfer", ADMIN_OR_MEMBER, "Withdraw a volume transfer.",
          "DELETE /os-volume-transfer/{transfer_id}", "DELETE /volume-transfers/{transfer_id}"),
    # user messages (microversion 3.3)
    _rule("message:get_all", ADMIN_OR_READER, "List the project's user messages.", "GET /messages"),
    _rule("message:get", ADMIN_OR_READER, "Show a user message.", "GET /messages/{message_id}"),
    _rule("message:delete", ADMIN_OR_MEMBER, "Delete a user message.", "DELETE /messages/{message_id}"),
    # attachments (microversion 3.27)
    _rule("volume:attachment_create", ADMIN_OR_MEMBER, "Create an attachment.", "POST /attachments"),
    _rule("volume:multiattach_bootable_volume", ADMIN_OR_MEMBER,
          "Attach a bootable multiattach volume that is in-use already (one more attachment).",
          "POST /attachments"),
    _rule("volume:attachment_get_all", ADMIN_OR_READER, "List attachments.",
          "GET /attachments", "GET /attachments/detail"),
    _rule("volume:attachment_get", ADMIN_OR_READER, "Show an attachment.", "GET /attachments/{attachment_id}"),
    _rule("volume:attachment_update", ADMIN_OR_MEMBER, "Update (complete) an attachment with a connector.",
          "PUT /attachments/{attachment_id}"),
    _rule("volume:attachment_complete", ADMIN_OR_MEMBER, "Mark an attachment completed (volume in-use).",
          "POST /attachments/{attachment_id}/action (os-complete)"),
    _rule("volume:attachment_delete", ADMIN_OR_MEMBER, "Delete an attachment.",
          "DELETE /attachments/{attachment_id}"),
    # volume types and extra specs
    _rule("volume_extension:type_get_all", ADMIN_OR_READER, "List volume types.", "GET /types"),
    _rule("volume_extension:type_get", ADMIN_OR_READER,
          "Show a volume type, or the default type. Type actions need it too, before their own rule.",
          "GET /types/{type_id}", "GET /types/default", "POST /types/{type_id}/action"),
    _rule("volume_extension:types_manage", ADMIN_API, "Create, update and delete volume types.",
          "POST /types", "PUT /types/{type_id}", "DELETE /types/{type_id}"),
    _rule("volume_extension:access_types_qos_specs_id", ADMIN_API,
          "Show a volume type's qos_specs_id in type shows and lists.", "GET /types", "GET /types/{type_id}"),
    # QoS specs (admin-only, as in Cinder; associate and disassociate are GETs that update)
    _rule("volume_extension:qos_specs_manage:get_all", ADMIN_API, "List QoS specs, or a spec's associations.",
          "GET /qos-specs", "GET /qos-specs/{qos_id}/associations"),
    _rule("volume_extension:qos_specs_manage:get", ADMIN_API, "Show a QoS spec.", "GET /qos-specs/{qos_id}"),
    _rule("volume_extension:qos_specs_manage:create", ADMIN_API, "Create a QoS spec.", "POST /qos-specs"),
    _rule("volume_extension:qos_specs_manage:update", ADMIN_API,
          "Set a QoS spec's keys, or change the volume types it is associated with.",
          "PUT /qos-specs/{qos_id}", "GET /qos-specs/{qos_id}/associate",
          "GET /qos-specs/{qos_id}/disassociate", "GET /qos-specs/{qos_id}/disassociate_all"),
    _rule("volume_extension:qos_specs_manage:delete", ADMIN_API, "Delete a QoS spec, or some of its keys.",
          "DELETE /qos-specs/{qos_id}", "PUT /qos-specs/{qos_id}/delete_keys"),
    _rule("volume_extension:volume_type_access", ADMIN_OR_MEMBER,
          "Show os-volume-type-access:is_public in type shows, lists and creates.",
          "GET /types", "GET /types/{type_id}", "POST /types"),
    _rule("volume_extension:volume_type_access:get_all_for_type", ADMIN_API,
          "List the projects granted a private volume type.", "GET /types/{type_id}/os-volume-type-access"),
    _rule("volume_extension:volume_type_access:addProjectAccess", ADMIN_API,
          "Grant a private volume type to a project.", "POST /types/{type_id}/action (addProjectAccess)"),
    _rule("volume_extension:volume_type_access:removeProjectAccess", ADMIN_API,
          "Take a private volume type's grant from a project.",
          "POST /types/{type_id}/action (removeProjectAccess)"),
    _rule("volume_extension:types_extra_specs:index", ADMIN_OR_READER, "List a volume type's extra specs.",
          "GET /types/{type_id}/extra_specs"),
    _rule("volume_extension:types_extra_specs:show", ADMIN_OR_READER, "Show one extra spec of a volume type.",
          "GET /types/{type_id}/extra_specs/{key}"),
    _rule("volume_extension:types_extra_specs:create", ADMIN_API, "Set extra specs of a volume type.",
          "POST /types/{type_id}/extra_specs"),
    _rule("volume_extension:types_extra_specs:update", ADMIN_API, "Set one extra spec of a volume type.",
          "PUT /types/{type_id}/extra_specs/{key}"),
    _rule("volume_extension:types_extra_specs:delete", ADMIN_API, "Delete one extra spec of a volume type.",
          "DELETE /types/{type_id}/extra_specs/{key}"),
    # a volume type's encryption (admin-only, as in Cinder)
    _rule("volume_extension:volume_type_encryption:get", ADMIN_API,
          "Show a volume type's encryption, or one of its fields.",
          "GET /types/{type_id}/encryption", "GET /types/{type_id}/encryption/{encryption_id}"),
    _rule("volume_extension:volume_type_encryption:create", ADMIN_API, "Give a volume type its encryption.",
          "POST /types/{type_id}/encryption"),
    _rule("volume_extension:volume_type_encryption:update", ADMIN_API, "Change a volume type's encryption.",
          "PUT /types/{type_id}/encryption/{encryption_id}"),
    _rule("volume_extension:volume_type_encryption:delete", ADMIN_API, "Remove a volume type's encryption.",
          "DELETE /types/{type_id}/encryption/{encryption_id}"),
    # group types and their specs (microversion 3.11)
    _rule("group:group_types:get", ADMIN_OR_READER,
          "List and show group types (volclone's own name: Cinder checks no rule; a private type is an admin's).",
          "GET /group_types", "GET /group_types/{group_type_id}", "GET /group_types/default"),
    _rule("group:group_types:create", ADMIN_API, "Create a group type.", "POST /group_types"),
    _rule("group:group_types:update", ADMIN_API, "Update a group type.", "PUT /group_types/{group_type_id}"),
    _rule("group:group_types:delete", ADMIN_API, "Delete a group type.", "DELETE /group_types/{group_type_id}"),
    _rule("group:access_group_types_specs", ADMIN_API, "Show group_specs in group type shows and lists.",
          "GET /group_types", "GET /group_types/{group_type_id}"),
    _rule("group:group_types_specs:get_all", ADMIN_API, "List a group type's specs.",
          "GET /group_types/{group_type_id}/group_specs"),
    _rule("group:group_types_specs:get", ADMIN_API, "Show one spec of a group type.",
          "GET /group_types/{group_type_id}/group_specs/{key}"),
    _rule("group:group_types_specs:create", ADMIN_API, "Set specs of a group type.",
          "POST /group_types/{group_type_id}/group_specs"),
    _rule("group:group_types_specs:update", ADMIN_API, "Set one spec of a group type.",
          "PUT /group_types/{group_type_id}/group_specs/{key}"),
    _rule("group:group_types_specs:delete", ADMIN_API, "Delete one spec of a group type.",
          "DELETE /group_types/{group_type_id}/group_specs/{key}"),
    # generic volume groups (microversion 3.13)
    _rule("group:get_all", ADMIN_OR_READER, "List groups.", "GET /groups", "GET /groups/detail"),
    _rule("group:create", ADMIN_OR_MEMBER, "Create a group.", "POST /groups"),
    _rule("group:get", ADMIN_OR_READER, "Show a group. Group actions need it too, before their own rule.",
          "GET /groups/{group_id}", "POST /groups/{group_id}/action"),
    _rule("group:update", ADMIN_OR_MEMBER, "Update a group: name, description, add and remove volumes.",
          "PUT /groups/{group_id}"),
    _rule("group:delete", ADMIN_OR_MEMBER, "Delete a group, and its volumes with delete-volumes.",
          "POST /groups/{group_id}/action (delete)"),
    _rule("group:reset_status", ADMIN_API, "Reset a group's status (3.20).",
          "POST /groups/{group_id}/action (reset_status)"),
    _rule("group:create_group_from_src", ADMIN_OR_MEMBER, "Create a group from a group snapshot or a source "
          "group (3.14).", "POST /groups/action (create-from-src)"),
    # group snapshots (microversion 3.14)
    _rule("group:create_group_snapshot", ADMIN_OR_MEMBER, "Create a group snapshot: every volume of a group at "
          "one instant.", "POST /group_snapshots"),
    _rule("group:get_all_group_snapshots", ADMIN_OR_READER, "List group snapshots.", "GET /group_snapshots",
          "GET /group_snapshots/detail"),
    _rule("group:get_group_snapshot", ADMIN_OR_READER, "Show a group snapshot.",
          "GET /group_snapshots/{group_snapshot_id}"),
    _rule("group:reset_group_snapshot_status", ADMIN_API, "Reset a group snapshot's status (3.19).",
          "POST /group_snapshots/{group_snapshot_id}/action (reset_status)"),
    _rule("group:delete_group_snapshot", ADMIN_OR_MEMBER, "Delete a group snapshot and its member snapshots.",
          "DELETE /group_snapshots/{group_snapshot_id}"),
    # clone-volumes
    _rule("clone_volumes:create", ADMIN_OR_MEMBER,
          "Clone a set of volumes at one point in time (starts a clone flow).", "POST /clone-volumes"),
    _rule("clone_volumes:get_progress", ADMIN_OR_READER, "Show the progress of a clone flow.",
          "GET /clone-volumes/get_progress"),
    _rule("clone_volumes:cancel", ADMIN_OR_MEMBER, "Cancel a clone flow: it stops and reverts (volclone's own).",
          "POST /clone-volumes/{task_id}/action"),
    _rule("clone_volumes:revert", ADMIN_OR_MEMBER,
          "Put a clone task's sources back to its clones' data, in place (starts a revert flow).",
          "POST /clone-volumes/revert"),
    # quotas and limits
    _rule("volume_extension:quotas:show", ADMIN_OR_READER,
          "Show quotas, their defaults and usage (a project's own; an admin any project's).",
          "GET /os-quota-sets/{target_project_id}", "GET /os-quota-sets/{target_project_id}/defaults"),
    _rule("volume_extension:quotas:update", ADMIN_API, "Set a project's quotas.",
          "PUT /os-quota-sets/{target_project_id}"),
    _rule("volume_extension:quotas:delete", ADMIN_API, "Set a project's quotas back to the defaults.",
          "DELETE /os-quota-sets/{target_project_id}"),
    _rule("limits_extension:used_limits", ADMIN_OR_READER, "Show the project's absolute limits and usage.",
          "GET /limits"),
    # a project's own default type (3.62; the URL names the target project, not an acting one)
    _rule("volume_extension:default_set_or_update", ADMIN_API, "Set or change a project's default volume type.",
          "PUT /v3/default-types/{project_id}"),
    _rule("volume_extension:default_get", ADMIN_API, "Show a project's default volume type.",
          "GET /v3/default-types/{project_id}"),
    _rule("volume_extension:default_get_all", ADMIN_API, "List the projects' default volume types.",
          "GET /v3/default-types"),
    _rule("volume_extension:default_unset", ADMIN_API, "Unset a project's default volume type.",
          "DELETE /v3/default-types/{project_id}"),
    # services
    _rule("volume_extension:services:index", ADMIN_API,
          "List the services: each worker's backends, up or down (os-services).", "GET /os-services"),
    _rule("scheduler_extension:scheduler_stats:get_pools", ADMIN_API,
          "List the backends' pools, with their capabilities in detail.", "GET /scheduler-stats/get_pools"),
    _rule("volume_extension:capabilities", ADMIN_API, "Show a volume service's capabilities.",
          "GET /capabilities/{hostname}"),
    _rule("volume_extension:services:update", ADMIN_API,
          "Enable or disable a service; read and set the service's log levels (3.32).",
          "PUT /os-services/enable", "PUT /os-services/disable", "PUT /os-services/disable-log-reason",
          "PUT /os-services/set-log", "PUT /os-services/get-log"),
    _rule("volume:freeze_host", ADMIN_API, "Freeze a backend: no management operation on its volumes.",
          "PUT /os-services/freeze"),
    _rule("volume:thaw_host", ADMIN_API, "Thaw a frozen backend.", "PUT /os-services/thaw"),
    _rule("volume_extension:hosts", ADMIN_API, "List the hosts and show one's volume usage (os-hosts).",
          "GET /os-hosts", "GET /os-hosts/{host_name}"),
    _rule("volume_extension:quota_classes", ADMIN_API, "Show and update quota classes (the default class: "
          "every project's defaults).", "GET /os-quota-class-sets/{class_name}",
          "PUT /os-quota-class-sets/{class_name}"),
    # what clients ask before they start (Cinder lets any caller; here, any reader of the project)
    _rule("volume_extension:resource_filters", ADMIN_OR_READER,
          "List the filters each list takes (3.33; Cinder checks no rule here).", "GET /resource_filters"),
    _rule("volume_extension:availability_zone_list", ADMIN_OR_READER, "List the availability zones.",
          "GET /os-availability-zone"),
    _rule("volume_extension:extensions_list", ADMIN_OR_READER, "List the API extensions served.",
          "GET /extensions"),
]

RULES: Sequence[oslo.RuleDefault] = [*BASE_RULES, *API_RULES]
#: The rule that decides who is an admin (``Principal.is_admin``: all_tenants, private types, every spec).
IS_ADMIN_RULE = "context_is_admin"
#: The rule checked on a path under ``/v3/{project_id}/`` that no route serves (404 or 405 then):
#: a caller who can't read the project learns nothing about it.
UNROUTED_RULE = "admin_or_project_reader"


class PolicyFileError(VolcloneError):
    """The policy file can't be read or parsed (a 500; the details go to the server log only)."""


def forbidden(rule: str) -> Forbidden:
    """Cinder's words for a refusal: the message names the rule."""
    return Forbidden(f"Policy doesn't allow {rule} to be performed.")


class Policy:
    """The rules in force: the defaults, overridden by ``policy_file`` (re-read when it changes)."""

    def __init__(self, policy_file: Path | None = None) -> None:
        conf = cfg.ConfigOpts()
        # No command line, no config files, no environment: only VOLCLONE_POLICY_FILE decides.
        conf(args=[], project="volclone", default_config_files=[], default_config_dirs=[], use_env=False)
        self.policy_file = policy_file
        # Requests are checked from many threads; a re-read of the file rebuilds the rules in place.
        self._lock = threading.Lock()
        if policy_file is not None and not policy_file.is_file():
            # oslo.policy would silently use the defaults: a mistyped path must not widen nothing
            # or narrow nothing without anyone noticing.
            raise PolicyFileError(f"the policy file {policy_file} does not exist")
        self._enforcer = oslo.Enforcer(conf, policy_file=str(policy_file.resolve()) if policy_file else None,
                                       use_conf=policy_file is not None)
        conf.set_override("policy_dirs", [], group="oslo_policy")
        self._enforcer.register_defaults(RULES)
        if policy_file is None:
            self._enforcer.set_rules(oslo.Rules({r.name: r.check for r in RULES}), use_conf=False)
        self._load()

    def _load(self) -> None:
        try:
            self._enforcer.load_rules()
        except Exception as exc:  # YAML errors, unreadable files: oslo.policy raises many kinds
            log.error("the policy file %s could not be loaded: %s", self.policy_file, exc)
            raise PolicyFileError("the policy file could not be loaded; see the server log") from exc

    @staticmethod
    def credentials(who: Principal) -> dict[str, object]:
        return {"roles": sorted(who.roles), "project_id": who.project_id}

    def allows(self, rule: str, who: Principal, project_id: str | None = None) -> bool:
        """Whether ``who`` may do ``rule`` on ``project_id`` (default: its own project)."""
        target = {"project_id": who.project_id if project_id is None else project_id}
        with self._lock:
            self._load()  # oslo.policy re-reads the file only when it changed
            return bool(self._enforcer.authorize(rule, target, self.credentials(who)))

    def authorize(self, rule: str, who: Principal, project_id: str | None = None) -> None:
        """Raise :class:`Forbidden` naming ``rule`` unless ``who`` may do it on ``project_id``."""
        if not self.allows(rule, who, project_id):
            raise forbidden(rule)

    def is_admin(self, who: Principal) -> bool:
        return self.allows(IS_ADMIN_RULE, who)

    def rule_names(self) -> list[str]:
        return [r.name for r in RULES]


def defaults_yaml() -> str:
    """Every rule with its default check string and description, as a ``policy.yaml``.

    Like ``oslopolicy-sample-generator``, but the rules are not commented out, so the output
    parses to the full default policy; an operator keeps the rules they change.
    """
    lines = ["# volclone's default policy: every rule, its default and what it guards.",
             "# Keep in your policy.yaml (VOLCLONE_POLICY_FILE) only the rules you change.", ""]
    for r in RULES:
        for text in (r.description or "").splitlines() or [""]:
            lines.append(f"# {text}".rstrip())
        for op in getattr(r, "operations", []):
            lines.append(f"#   {op['method']}  /v3/{{project_id}}{op['path']}")
        lines.append(f"{json.dumps(r.name)}: {json.dumps(r.check_str)}")
        lines.append("")
    return "\n".join(lines)
