"""openstacksdk's group snapshot and group admin calls against a real server (the local pool):
``create_group_snapshot``, ``get_group_snapshot``, ``delete_group_snapshot``,
``reset_group_snapshot_status`` (3.19), ``create_group_from_source`` (a group snapshot, then a
source group) and ``reset_group_status`` (3.20); and ``group_types`` sorted, paged and by
``is_public``, ``update_group_type``. Each call is read back over HTTP.

The sdk's ``create_group_from_source`` sends every field, the unused source as null
(``{"create-from-src": {"name": ..., "description": null, "group_snapshot_id": G,
"source_group_id": null}}``)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from api.support import unique

#: Shows source_group_id and group_snapshot_id in group bodies, and volumes with list_volume.
H = {"OpenStack-API-Version": "volume 3.25"}
#: The longest a group's flow may take before the test gives up (a deadline, not a timed assertion).
DEADLINE_S = 300


@pytest.fixture(scope="module")
def sdk(env: Any) -> tuple[Any, Any]:
    """The block-storage proxies of a p1 user and of an admin."""
    from api.test_openstacksdk import connect

    return connect(env.server, env.user_token).block_storage, connect(env.server, env.admin_token).block_storage


def _settled(env: Any, path: str, key: str, busy: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        body: dict[str, Any] = env.user.ok("GET", path, headers=H)[key]
        if body["status"] != busy:
            return body
        assert time.monotonic() < deadline, f"{path} is still {busy}"
        time.sleep(0.2)


def test_openstacksdk_group_snapshots_create_from_src_and_reset_status(env, sdk):
    bs, admin = sdk
    gt = admin.create_group_type(name=unique("sdk-gs-gt"))
    group = bs.create_group(name=unique("sdk-gs"), group_type=gt.id, volume_types=["__DEFAULT__"])
    vols = [env.user.create_volume(1, unique(f"sdk-gs-{n}"))["id"] for n in "ab"]
    env.user.ok("PUT", f"/groups/{group.id}", json={"group": {"add_volumes": ",".join(vols)}}, headers=H)

    made = bs.create_group_snapshot(group_id=group.id, name="sdk-gs", description="two members")
    shown = _settled(env, f"/group_snapshots/{made.id}", "group_snapshot", "creating")
    assert (shown["name"], shown["description"], shown["status"], shown["group_id"]) == (
        "sdk-gs", "two members", "available", group.id)
    got = bs.get_group_snapshot(made.id)
    assert (got.id, got.name, got.group_id, got.group_type_id, got.status) == (
        made.id, "sdk-gs", group.id, gt.id, "available")
    members = [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
               if s["group_snapshot_id"] == made.id]
    assert sorted(s["volume_id"] for s in members) == sorted(vols)

    # create-from-src, from the group snapshot and from the group: one new volume a member.
    from_gs = bs.create_group_from_source(group_snapshot_id=made.id, source_group_id=None, name="sdk-from-gs")
    from_group = bs.create_group_from_source(group_snapshot_id=None, source_group_id=group.id,
                                             name="sdk-from-group")
    for new, field, source in ((from_gs, "group_snapshot_id", made.id), (from_group, "source_group_id", group.id)):
        body = _settled(env, f"/groups/{new.id}?list_volume=true", "group", "creating")
        assert (body["status"], body[field], body["group_type"]) == ("available", source, gt.id)
        assert len(body["volumes"]) == 2 and not set(body["volumes"]) & set(vols)

    # The admins' reset_status of a group snapshot (3.19) and of a group (3.20).
    admin.reset_group_snapshot_status(made.id, "error")
    assert env.user.ok("GET", f"/group_snapshots/{made.id}", headers=H)["group_snapshot"]["status"] == "error"
    admin.reset_group_status(from_group.id, "error")
    assert env.user.ok("GET", f"/groups/{from_group.id}", headers=H)["group"]["status"] == "error"
    admin.reset_group_status(from_group.id, "available")
    assert bs.get_group(from_group.id).status == "available"

    bs.delete_group_snapshot(made.id)
    gone = env.user.request("GET", f"/group_snapshots/{made.id}", headers=H)
    assert gone.status_code == 404, gone.text
    assert not [s for s in env.user.ok("GET", "/snapshots/detail", headers=H)["snapshots"]
                if s["group_snapshot_id"] == made.id]
    for g in (from_gs, from_group, group):
        bs.delete_group(g.id, delete_volumes=True)
    assert not [v for v in vols if env.user.request("GET", f"/volumes/{v}").status_code != 404]
    admin.delete_group_type(gt)


def test_openstacksdk_group_type_lists_sort_page_and_is_public(env, sdk):
    bs, admin = sdk
    tag = unique("sdk-gtl")
    public = admin.create_group_type(name=f"{tag}-b")
    private = admin.create_group_type(name=f"{tag}-a", is_public=False)
    third = admin.create_group_type(name=f"{tag}-c")
    mine = {public.id, private.id, third.id}
    try:
        # One a page: Cinder's group type list has no next links, so the sdk pages on with the
        # last id as the marker until a page comes back short.
        paged = [t.name for t in admin.group_types(sort="name:asc", limit=1, is_public="none") if t.id in mine]
        assert paged == [f"{tag}-a", f"{tag}-b", f"{tag}-c"]
        one = env.admin.ok("GET", "/group_types", params={"limit": "1", "is_public": "none"}, headers=H)
        assert len(one["group_types"]) == 1  # so those were three pages at least
        down = [t.name for t in admin.group_types(sort_key="name", sort_dir="desc", is_public="none")
                if t.id in mine]
        assert down == [f"{tag}-c", f"{tag}-b", f"{tag}-a"]
        assert {t.id for t in admin.group_types(is_public=False)} & mine == {private.id}
        assert {t.id for t in bs.group_types()} & mine == {public.id, third.id}  # a user sees the public ones
        admin.update_group_type(third, name=f"{tag}-0", description="renamed")
        shown = env.admin.ok("GET", f"/group_types/{third.id}", headers=H)["group_type"]
        assert (shown["name"], shown["description"], shown["is_public"]) == (f"{tag}-0", "renamed", True)
        assert [t.id for t in admin.group_types(sort="name:asc", is_public="none") if t.id in mine][0] == third.id
    finally:
        for t in (public, private, third):
            admin.delete_group_type(t)
    assert not {t.id for t in admin.group_types(is_public="none")} & mine
