"""3.34's ``key~`` filters on group and attachment lists through python-cinderclient against a
real server: ``cinder group-list --filters name~=...`` and ``cinder attachment-list --filters
instance_id~=...`` match a part of the field, in any case, for an admin; a user's are refused
(Cinder's default resource filters name no ``key~`` for them)."""

from __future__ import annotations

import uuid

from api.support import unique

from .test_cli_clients import table
from .test_group_clients import listed_ids
from .test_quota_clients import cinder

V34 = ("--os-volume-api-version", "3.34")


def test_cinder_like_filters_on_group_and_attachment_lists(env):
    gt = listed_ids(cinder(env, env.admin_token, *V34, "group-type-create", unique("cli-like")).stdout)[0]
    tag = unique("like")
    groups = {table(cinder(env, env.user_token, *V34, "group-create", "--name", name, gt, "__DEFAULT__").stdout)[
        "id"]: name for name in (f"{tag}-Night-a", f"{tag}-day")}
    night = listed_ids(cinder(env, env.admin_token, *V34, "group-list", "--all-tenants", "1",
                              "--filters", f"name~={tag}-NIGHT").stdout)
    assert [groups[g] for g in night] == [f"{tag}-Night-a"]
    refused = cinder(env, env.user_token, *V34, "group-list", "--filters", f"name~={tag}", check=False)
    assert refused.returncode != 0 and "Invalid filters name~" in refused.stderr

    instance = str(uuid.uuid4())
    vid = env.user.create_volume(1, unique("cli-like"))["id"]
    other = env.user.create_volume(1, unique("cli-like"))["id"]
    mine = table(cinder(env, env.user_token, *V34, "attachment-create", vid, instance).stdout)["id"]
    theirs = table(cinder(env, env.user_token, *V34, "attachment-create", other, str(uuid.uuid4())).stdout)["id"]
    found = listed_ids(cinder(env, env.admin_token, *V34, "attachment-list", "--all-tenants", "1",
                              "--filters", f"instance_id~={instance[9:23].upper()}").stdout)
    assert found == [mine]
    refused = cinder(env, env.user_token, *V34, "attachment-list", "--filters", f"instance_id~={instance[:8]}",
                     check=False)
    assert refused.returncode != 0 and "Invalid filters instance_id~" in refused.stderr

    for aid in (mine, theirs):
        cinder(env, env.user_token, *V34, "attachment-delete", aid)
    for v in (vid, other):
        env.user.ok("DELETE", f"/volumes/{v}")
    for g in groups:
        cinder(env, env.user_token, *V34, "group-delete", g)
    cinder(env, env.admin_token, *V34, "group-type-delete", gt)
