"""The real clients against a real server for what closed four Tempest failures:

- ``cinder create --volume-type`` of a type whose ``storage_protocol``/``vendor_name`` no backend
  has (Tempest's user-message trigger): accepted, ``error``, and ``cinder message-list`` (3.3)
  shows Cinder's ``schedule allocate volume`` message for it;
- python-cinderclient's ``volume_snapshots.update_snapshot_status`` (``os-update_snapshot_status``)
  after ``cinder snapshot-reset-state --state creating``, read back by ``cinder snapshot-show``;
- ``cinder group-type-list`` (admins: ``is_public=None``, every type; 3.52 ``--filters
  is_public=False``) and cinderclient's ``group_types.list`` with ``sort``;
- ``cinder --os-volume-api-version 3.34 snapshot-list --filters name~=`` (an admin's, a user's 400)."""

from __future__ import annotations

from typing import Any

import pytest

from api.support import unique

from .test_cli_clients import table
from .test_group_clients import listed_ids
from .test_quota_clients import cinder

V3_3 = ("--os-volume-api-version", "3.3")


def _python_client(env: Any, token: str) -> Any:
    from cinderclient import client
    from keystoneauth1 import session, token_endpoint

    endpoint = f"{env.server.url}/v3/p1"
    return client.Client("3.11", session=session.Session(auth=token_endpoint.Token(endpoint, token)))


def test_a_type_no_backend_can_meet_makes_an_error_volume_and_a_message(env):
    tid = listed_ids(cinder(env, env.admin_token, "type-create", unique("bogus")).stdout)[0]
    cinder(env, env.admin_token, "type-key", tid, "set", f"storage_protocol={unique('proto')}",
           f"vendor_name={unique('vendor')}")
    try:
        made = table(cinder(env, env.user_token, "create", "--volume-type", tid, "--name", unique("nvh"), "1").stdout)
        vid = made["id"]
        assert made["status"] == "error"
        assert env.user.ok("GET", f"/volumes/{vid}")["volume"]["status"] == "error"
        listed = cinder(env, env.user_token, *V3_3, "message-list").stdout
        [row] = [line for line in listed.splitlines() if vid in line]
        assert "VOLUME_VOLUME_001_003" in row
        mid = row.strip("|").split("|")[0].strip()
        shown = table(cinder(env, env.user_token, *V3_3, "message-show", mid).stdout)
        assert shown["user_message"] == "schedule allocate volume:Could not find any available weighted backend."
        cinder(env, env.user_token, *V3_3, "message-delete", mid)
        cinder(env, env.user_token, "delete", vid)
        assert env.user.request("GET", f"/volumes/{vid}").status_code == 404
    finally:
        cinder(env, env.admin_token, "type-delete", tid)


def test_cinderclient_update_snapshot_status(env):
    from cinderclient import exceptions

    vid = env.user.create_volume(1, unique("uss"))["id"]
    sid = env.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid}})["snapshot"]["id"]
    try:
        cinder(env, env.admin_token, "snapshot-reset-state", "--state", "creating", sid)
        cs = _python_client(env, env.user_token)
        cs.volume_snapshots.update_snapshot_status(sid, {"status": "error", "progress": "80%"})
        shown = table(cinder(env, env.user_token, "snapshot-show", sid).stdout)
        assert (shown["status"], shown["os-extended-snapshot-attributes:progress"]) == ("error", "80%")
        with pytest.raises(exceptions.BadRequest):  # error is not a status it may report from
            cs.volume_snapshots.update_snapshot_status(sid, {"status": "available"})
        assert table(cinder(env, env.user_token, "snapshot-show", sid).stdout)["status"] == "error"
    finally:
        cinder(env, env.user_token, "delete", "--cascade", vid)


def test_cinder_group_type_list_is_public_and_sort(env):
    v = ("--os-volume-api-version", "3.52")
    public = listed_ids(cinder(env, env.admin_token, *v, "group-type-create", unique("a-gt")).stdout)[0]
    private = listed_ids(cinder(env, env.admin_token, *v, "group-type-create", "--is-public", "False",
                                unique("b-gt")).stdout)[0]
    try:
        every = listed_ids(cinder(env, env.admin_token, *v, "group-type-list").stdout)
        assert {public, private} <= set(every)
        only_private = listed_ids(cinder(env, env.admin_token, *v, "group-type-list", "--filters",
                                         "is_public=False").stdout)
        assert private in only_private and public not in only_private
        users = listed_ids(cinder(env, env.user_token, *v, "group-type-list").stdout)
        assert public in users and private not in users
        cs = _python_client(env, env.admin_token)
        down = [t.id for t in cs.group_types.list(search_opts={"sort": "name:desc"}) if t.id in (public, private)]
        up = [t.id for t in cs.group_types.list(search_opts={"sort": "name:asc"}) if t.id in (public, private)]
        assert down == [private, public] and up == [public, private]
    finally:
        for gt in (public, private):
            cinder(env, env.admin_token, *v, "group-type-delete", gt)


def test_cinder_snapshot_list_like_filters(env):
    """3.34's ``key~`` on snapshot lists: an admin's matches a part of the name in any case; a
    user's is Cinder's 400 (``name~`` is not one of a user's snapshot filters)."""
    v = ("--os-volume-api-version", "3.34")
    tag = unique("like")
    vid = env.user.create_volume(1, unique("like-src"))["id"]
    sids = {env.user.ok("POST", "/snapshots", json={"snapshot": {"volume_id": vid, "name": n}})["snapshot"]["id"]: n
            for n in (f"{tag}-Night", f"{tag}-day")}
    try:
        night = listed_ids(cinder(env, env.admin_token, *v, "snapshot-list", "--all-tenants", "--filters",
                                  f"name~={tag}-NIGHT").stdout)
        assert [sids[s] for s in night] == [f"{tag}-Night"]
        both = listed_ids(cinder(env, env.admin_token, *v, "snapshot-list", "--all-tenants", "--filters",
                                 f"name~={tag}").stdout)
        assert sorted(both) == sorted(sids)
        refused = cinder(env, env.user_token, *v, "snapshot-list", "--filters", f"name~={tag}", check=False)
        assert refused.returncode != 0 and "Invalid filters name~" in refused.stderr, refused.stderr
    finally:
        cinder(env, env.user_token, "delete", "--cascade", vid)
