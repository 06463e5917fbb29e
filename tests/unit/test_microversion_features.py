"""What microversions 3.28 to 3.71 change, through the API in process (a TestClient on the fast
service), each asked just below and at its microversion: docs/microversions.md is the table."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
import pytest

from volclone.api import versions
from volclone.api.resource_filters import RESOURCE_FILTERS
from volclone.service.auth import MEMBER_ROLES

from .http import Http
from .test_volume_actions import attach, fault


def call(http: Http, method: str, path: str, version: str | None = None, token: str | None = None,
         body: Any = None, **params: str) -> httpx.Response:
    """This file's calls name the microversion first, and ``path`` starts after ``/v3`` (with the
    project where the route has one): ``call(http, "GET", "/p1/volumes", "3.60", created_at="gt:...")``."""
    return http.client.request(method, f"/v3{path}", json=body, headers=http.headers(token, version), params=params)


def ok(http: Http, method: str, path: str, version: str | None = None, status: int = 200, **kw: Any) -> Any:
    r = call(http, method, path, version, **kw)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def test_the_maximum_is_3_71() -> None:
    assert versions.MAX_VERSION == (3, 71)


# -- 3.32 set-log / get-log ----------------------------------------------------------------------
def test_log_levels_are_read_and_set_from_3_32_by_admins(http: Http) -> None:
    logger = logging.getLogger("volclone.test_micro.levels")
    logger.setLevel(logging.INFO)
    try:
        body = {"binary": "*", "prefix": "volclone.test_micro", "level": "debug"}
        fault(call(http, "PUT", "/admin/os-services/set-log", "3.31", http.admin, body), 400, "badRequest",
              "Unknown action")
        fault(call(http, "PUT", "/p1/os-services/set-log", "3.32", body=body), 403, "forbidden")
        assert call(http, "PUT", "/admin/os-services/set-log", "3.32", http.admin, body).status_code == 202
        assert logger.level == logging.DEBUG
        got = ok(http, "PUT", "/admin/os-services/get-log", "3.32", token=http.admin,
                      body={"prefix": "volclone.test_micro"})["log_levels"]
        assert [(g["binary"], g["levels"]) for g in got] == [
            ("volclone-api", {"volclone.test_micro.levels": "DEBUG"})]
        # Another binary, or another server for get-log, is not this process.
        assert ok(http, "PUT", "/admin/os-services/get-log", "3.32", token=http.admin,
                       body={"binary": "volclone-volume"})["log_levels"] == []
        assert ok(http, "PUT", "/admin/os-services/get-log", "3.32", token=http.admin,
                       body={"server": "elsewhere"})["log_levels"] == []
        fault(call(http, "PUT", "/admin/os-services/set-log", "3.32", http.admin, {"level": "LOUD"}), 400,
              "badRequest", "level")
        fault(call(http, "PUT", "/admin/os-services/set-log", "3.32", http.admin, {"level": "INFO", "x": 1}), 400,
              "badRequest")
    finally:
        logger.setLevel(logging.NOTSET)


# -- 3.33 resource_filters -------------------------------------------------------------------------
def test_resource_filters_from_3_33(http: Http) -> None:
    fault(call(http, "GET", "/p1/resource_filters", "3.32"), 404, "itemNotFound", "3.33")
    listed = ok(http, "GET", "/p1/resource_filters", "3.33")["resource_filters"]
    assert {f["resource"]: set(f["filters"]) for f in listed} == RESOURCE_FILTERS
    assert ok(http, "GET", "/p1/resource_filters", "3.33", resource="snapshot")["resource_filters"] == [
        {"resource": "snapshot", "filters": sorted(RESOURCE_FILTERS["snapshot"])}]
    assert ok(http, "GET", "/p1/resource_filters", "3.33", resource="backup")["resource_filters"] == []


def test_every_volume_filter_listed_is_one_a_user_may_give(http: Http) -> None:
    """The answer and the list's parser agree: each filter it names is taken at the newest version."""
    http.fast.volume(1, name="a")
    for name in RESOURCE_FILTERS["volume"]:
        value = {"created_at": "gt:2000-01-01T00:00:00", "updated_at": "gt:2000-01-01T00:00:00",
                 "bootable": "false"}.get(name, "x")
        assert call(http, "GET", "/p1/volumes", "3.71", **{name: value}).status_code == 200, name


# -- 3.39 limits of another project -----------------------------------------------------------------
def test_limits_take_project_id_from_3_39(http: Http) -> None:
    http.fast.volume(2, project="p2")
    absolute = ok(http, "GET", "/admin/limits", "3.39", token=http.admin, project_id="p2")["limits"]["absolute"]
    assert (absolute["totalVolumesUsed"], absolute["totalGigabytesUsed"]) == (1, 2)
    # Below 3.39 the filter is not read: the admin's own project.
    assert ok(http, "GET", "/admin/limits", "3.38", token=http.admin,
                   project_id="p2")["limits"]["absolute"]["totalVolumesUsed"] == 0
    fault(call(http, "GET", "/p1/limits", "3.39", project_id="p2"), 403, "forbidden", "p2")
    assert ok(http, "GET", "/p1/limits", "3.39", project_id="p1")["limits"]["absolute"]["totalVolumesUsed"] == 0


# -- 3.44 os-complete, 3.54 mode -------------------------------------------------------------------
def test_os_complete_from_3_44_only(http: Http) -> None:
    vol = http.fast.volume(1)
    a = ok(http, "POST", "/p1/attachments", "3.27",
                body={"attachment": {"volume_uuid": vol.id, "instance_uuid": None, "connector": {"host": "h"}}})
    aid = a["attachment"]["id"]
    fault(call(http, "POST", f"/p1/attachments/{aid}/action", "3.43", body={"os-complete": aid}), 404,
          "itemNotFound", "os-complete", "3.44")
    assert http.fast.get(vol.id).status.value != "in-use"
    assert call(http, "POST", f"/p1/attachments/{aid}/action", "3.44", body={"os-complete": aid}).status_code == 204
    assert http.fast.get(vol.id).status.value == "in-use"


def test_the_attachment_mode_is_read_from_3_54(http: Http) -> None:
    def create(version: str) -> str:
        vol = http.fast.volume(1)
        body = {"attachment": {"volume_uuid": vol.id, "instance_uuid": None, "connector": {"host": "h"},
                               "mode": "ro"}}
        return ok(http, "POST", "/p1/attachments", version, body=body)["attachment"]["attach_mode"]  # type: ignore[no-any-return]

    assert create("3.53") == "rw"  # the body's mode is not read: the connector has none
    assert create("3.54") == "ro"


# -- 3.52 types by extra specs -----------------------------------------------------------------------
def test_types_are_filtered_by_extra_specs_from_3_52(http: Http) -> None:
    admin = http.fast.admin
    types = http.fast.svc.types
    types.create(admin, "gold", None, True, {"tier": "gold", "multiattach": "<is> True"})
    types.create(admin, "silver", None, True, {"tier": "silver"})

    def names(version: str, token: str, specs: str) -> set[str]:
        got = ok(http, "GET", "/p1/types", version, token=token, extra_specs=specs)["volume_types"]
        return {t["name"] for t in got}

    assert names("3.52", http.admin, '{"tier": "gold"}') == {"gold"}
    assert names("3.52", http.admin, "{'tier': 'silver'}") == {"silver"}
    assert len(names("3.51", http.admin, '{"tier": "gold"}')) == 3  # ignored: __DEFAULT__ too
    assert names("3.52", http.admin, "not a dict") == set()
    # A user filters on the specs it sees: multiattach is one, tier is not.
    assert names("3.52", http.member, '{"multiattach": "<is> True"}') == {"gold"}
    assert names("3.52", http.member, '{"tier": "gold"}') == set()


# -- 3.53 an update that changes nothing -----------------------------------------------------------
def test_an_empty_update_is_a_400_from_3_53(http: Http) -> None:
    vol = http.fast.volume(1, name="same")
    assert ok(http, "PUT", f"/p1/volumes/{vol.id}", "3.52", body={"volume": {}})["volume"]["name"] == "same"
    fault(call(http, "PUT", f"/p1/volumes/{vol.id}", "3.53", body={"volume": {}}), 400, "badRequest", "nothing")
    fault(call(http, "PUT", f"/p1/volumes/{vol.id}", "3.0", body={"volume": {"status": "x"}}), 400, "badRequest")


def test_a_creates_unknown_field_is_ignored_below_3_53_and_a_400_from_it(http: Http) -> None:
    body = {"volume": {"size": 1, "name": "odd", "imageRef_typo": "x", "os-foo": 1}}
    before = http.fast.volume_ids()
    for version in ("3.53", "3.71"):
        message = fault(call(http, "POST", "/p1/volumes", version, body=body), 400, "badRequest")
        assert message == ("invalid request: volume.imageRef_typo: Extra inputs are not permitted; "
                           "volume.os-foo: Extra inputs are not permitted")
    assert http.fast.volume_ids() == before, "nothing made"
    for version in (None, "3.0", "3.52"):  # Cinder's additionalProperties: true there
        made = ok(http, "POST", "/p1/volumes", version, status=202, body=body)["volume"]
        assert made["name"] == "odd" and made["size"] == 1
    # The fields Cinder knows are still checked at every microversion.
    fault(call(http, "POST", "/p1/volumes", "3.0", body={"volume": {"size": "big", "x": 1}}), 400, "badRequest")


# -- 3.60 time comparisons, 3.65 consumes_quota -------------------------------------------------------
def test_volumes_are_filtered_by_time_from_3_60(http: Http) -> None:
    old = http.fast.volume(1, name="old")
    cut = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    new = http.fast.volume(1, name="new")
    stamp = cut.isoformat()

    def ids(version: str, **params: str) -> set[str]:
        return {v["id"] for v in ok(http, "GET", "/p1/volumes/detail", version, **params)["volumes"]}

    assert ids("3.60", created_at=f"gt:{stamp}") == {new.id}
    assert ids("3.60", created_at=f"lte:{stamp}") == {old.id}
    assert ids("3.60", created_at=f"gte:{stamp}Z,lt:2999-01-01T00:00:00+00:00") == {new.id}
    assert ids("3.60", updated_at="lt:2000-01-01T00:00:00") == set()
    # As the summary list too; below 3.60 the filters are dropped.
    assert {v["id"] for v in ok(http, "GET", "/p1/volumes", "3.60", created_at=f"gt:{stamp}")["volumes"]} == {new.id}
    assert ids("3.59", created_at=f"gt:{stamp}") == {old.id, new.id}
    fault(call(http, "GET", "/p1/volumes", "3.60", created_at=f"after:{stamp}"), 400, "badRequest", "operator")
    fault(call(http, "GET", "/p1/volumes", "3.60", created_at="gt:yesterday"), 400, "badRequest", "yesterday")
    fault(call(http, "GET", "/p1/volumes", "3.60", created_at="2020"), 400, "badRequest", "created_at")


def test_consumes_quota_filters_from_3_65(http: Http) -> None:
    vol = http.fast.volume(1)
    snaps = http.fast.svc.snapshots
    assert snaps is not None
    snaps.create(http.fast.who, "p1", vol.id, name="s")
    for path, key in (("/p1/volumes", "volumes"), ("/p1/snapshots", "snapshots")):
        assert len(ok(http, "GET", path, "3.65", consumes_quota="true")[key]) == 1
        assert ok(http, "GET", path, "3.65", consumes_quota="false")[key] == []
        fault(call(http, "GET", path, "3.65", consumes_quota="maybe"), 400, "badRequest", "consumes_quota")
        fault(call(http, "GET", path, "3.64", consumes_quota="true"), 400, "badRequest", "consumes_quota")


# -- 3.66 snapshots of in-use volumes --------------------------------------------------------------
def test_an_in_use_volume_is_snapshotted_without_force_from_3_66(http: Http) -> None:
    vol = http.fast.volume(1)
    attach(http.fast, vol.id)
    fault(call(http, "POST", "/p1/snapshots", "3.65", body={"snapshot": {"volume_id": vol.id}}), 400,
          "badRequest", "force")
    assert ok(http, "POST", "/p1/snapshots", "3.66", 202, body={"snapshot": {"volume_id": vol.id}})
    assert ok(http, "POST", "/p1/snapshots", "3.66", 202, body={"snapshot": {"volume_id": vol.id, "force": True}})
    fault(call(http, "POST", "/p1/snapshots", "3.66", body={"snapshot": {"volume_id": vol.id, "force": False}}),
          400, "badRequest", "force")


# -- 3.67 URLs without the project ------------------------------------------------------------------
def test_urls_without_the_project_are_the_token_s_project(http: Http) -> None:
    vol = http.fast.volume(1, name="mine")
    http.fast.volume(1, name="theirs", project="p2")
    assert [v["name"] for v in ok(http, "GET", "/volumes", "3.67")["volumes"]] == ["mine"]
    assert ok(http, "GET", f"/volumes/{vol.id}")["volume"]["id"] == vol.id  # at every microversion, as Cinder
    assert ok(http, "GET", "/limits", "3.67")["limits"]["absolute"]["totalVolumesUsed"] == 1
    made = ok(http, "POST", "/volumes", "3.67", 202, body={"volume": {"size": 1, "name": "new"}})["volume"]
    assert http.fast.get(made["id"]).project_id == "p1"
    fault(call(http, "GET", "/volumes", "3.67", token="nope"), 401, "unauthorized")


def test_a_project_named_like_a_collection_keeps_its_urls(http: Http) -> None:
    token = http.fast.svc.auth.create_token("volumes", MEMBER_ROLES)
    http.fast.volume(1, name="v-of-volumes", project="volumes")
    got = ok(http, "GET", "/volumes/volumes", "3.67", token=token)["volumes"]
    assert [v["name"] for v in got] == ["v-of-volumes"]
    assert [v["name"] for v in ok(http, "GET", "/volumes", "3.67", token=token)["volumes"]] == ["v-of-volumes"]


# -- 3.71 os-extend_volume_completion ----------------------------------------------------------------
def test_extend_volume_completion_from_3_71_admins_only(http: Http) -> None:
    vol = http.fast.volume(1)
    body = {"os-extend_volume_completion": {"error": False}}
    fault(call(http, "POST", f"/admin/volumes/{vol.id}/action", "3.70", http.admin, body), 404, "itemNotFound",
          "3.71")
    fault(call(http, "POST", f"/p1/volumes/{vol.id}/action", "3.71", body=body), 403, "forbidden",
          "extend_volume_completion")
    # No volclone volume ever waits for Nova's answer: a 400, and nothing changes.
    fault(call(http, "POST", f"/p1/volumes/{vol.id}/action", "3.71", http.admin, body), 400, "badRequest",
          "not waiting")
    assert http.fast.get(vol.id).size == 1
    fault(call(http, "POST", "/admin/volumes/nope/action", "3.71", http.admin, body), 404, "itemNotFound")
    fault(call(http, "POST", f"/p1/volumes/{vol.id}/action", "3.71", http.admin,
                    {"os-extend_volume_completion": {}}), 400, "badRequest", "error")


# -- 3.62 default types ----------------------------------------------------------------------------------
def test_a_project_s_default_type_from_3_62(http: Http) -> None:
    admin = http.fast.admin
    gold = http.fast.svc.types.create(admin, "gold-default", None, True, {})
    set_body = {"default_type": {"volume_type": "gold-default"}}
    fault(call(http, "PUT", "/default-types/p1", "3.61", http.admin, set_body), 404, "itemNotFound", "3.62")
    fault(call(http, "PUT", "/default-types/p1", "3.62", body=set_body), 403, "forbidden", "default_set_or_update")
    fault(call(http, "GET", "/default-types/p1", "3.62", http.admin), 404, "itemNotFound", "p1")
    made = ok(http, "PUT", "/default-types/p1", "3.62", token=http.admin, body=set_body)
    assert made == {"default_type": {"project_id": "p1", "volume_type_id": gold.id}}
    # As cinderclient calls it, from its project endpoint: the same.
    assert ok(http, "GET", "/admin/default-types/p1", "3.62", token=http.admin) == made
    assert ok(http, "GET", "/default-types", "3.62", token=http.admin) == {"default_types": [made["default_type"]]}
    # The project's creates without a type get it, and its members see it as the default; others do not.
    vol = ok(http, "POST", "/p1/volumes", "3.63", 202, body={"volume": {"size": 1}})["volume"]
    assert vol["volume_type_id"] == gold.id
    assert ok(http, "GET", "/p1/types/default")["volume_type"]["name"] == "gold-default"
    assert http.fast.volume(1, project="p2").volume_type_id != gold.id
    fault(call(http, "DELETE", f"/admin/types/{gold.id}", token=http.admin), 400, "badRequest", "p1")
    fault(call(http, "PUT", "/default-types/p2", "3.62", http.admin, {"default_type": {"volume_type": "nope"}}),
          404, "itemNotFound", "nope")
    fault(call(http, "PUT", "/default-types/p2", "3.62", http.admin, {"default_type": {}}), 400, "badRequest")
    assert call(http, "DELETE", "/default-types/p1", "3.62", http.admin).status_code == 204
    fault(call(http, "DELETE", "/default-types/p1", "3.62", http.admin), 404, "itemNotFound")
    assert ok(http, "GET", "/p1/types/default")["volume_type"]["name"] == "__DEFAULT__"


def test_a_private_type_is_a_default_only_where_it_is_granted(http: Http) -> None:
    admin = http.fast.admin
    secret = http.fast.svc.types.create(admin, "secret", None, False, {})
    body = {"default_type": {"volume_type": secret.id}}
    fault(call(http, "PUT", "/default-types/p1", "3.62", http.admin, body), 400, "badRequest", "private")
    http.fast.svc.types.add_access(admin, secret.id, "p1")
    assert ok(http, "PUT", "/default-types/p1", "3.62", token=http.admin, body=body)["default_type"][
        "volume_type_id"] == secret.id


# -- 3.15 metadata Etags --------------------------------------------------------------------------------
def test_metadata_etags_refuse_lost_updates_from_3_15(http: Http) -> None:
    vol = http.fast.volume(1, metadata={"a": "1"})
    path = f"/p1/volumes/{vol.id}/metadata"
    assert "etag" not in call(http, "GET", path, "3.14").headers
    first = call(http, "GET", path, "3.15")
    tag = first.headers["etag"]
    assert tag and first.json() == {"metadata": {"a": "1"}}
    # Someone else changes it: the old tag no longer matches.
    ok(http, "PUT", f"{path}/a", "3.15", body={"meta": {"a": "2"}})
    stale = {"X-Auth-Token": http.member, versions.HEADER: "volume 3.15", "If-Match": tag}
    r = http.client.put(f"/v3{path}", json={"metadata": {}}, headers=stale)
    fault(r, 412, "preconditionFailed", "If-Match")
    r = http.client.put(f"/v3{path}/a", json={"meta": {"a": "3"}}, headers=stale)
    fault(r, 412, "preconditionFailed")
    assert http.fast.get(vol.id).metadata == {"a": "2"}
    for form in ('"{}"', "*", 'W/"nope", {}'):
        fresh = call(http, "GET", path, "3.15").headers["etag"]
        r = http.client.put(f"/v3{path}", json={"metadata": {"b": form[:1]}},
                            headers={**stale, "If-Match": form.format(fresh)})
        assert r.status_code == 200, r.text
    # Below 3.15 If-Match is not read.
    r = http.client.put(f"/v3{path}", json={"metadata": {"c": "1"}}, headers={**stale, versions.HEADER: "volume 3.14"})
    assert r.status_code == 200 and http.fast.get(vol.id).metadata == {"c": "1"}


# -- 3.23 force on volume delete ------------------------------------------------------------------------
def test_volume_delete_takes_force_from_3_23_under_the_force_delete_rule(http: Http) -> None:
    vol = http.fast.volume(1)
    ok(http, "POST", f"/p1/volumes/{vol.id}/action", token=http.admin, status=202,
            body={"os-reset_status": {"status": "extending"}})
    # Below 3.23 force is not read: an extending volume is not deleted.
    fault(call(http, "DELETE", f"/p1/volumes/{vol.id}", "3.22", http.admin, force="true"), 400, "badRequest",
          "extending")
    fault(call(http, "DELETE", f"/p1/volumes/{vol.id}", "3.23", force="true"), 403, "forbidden", "force_delete")
    fault(call(http, "DELETE", f"/p1/volumes/{vol.id}", "3.23", http.admin, force="maybe"), 400, "badRequest",
          "force")
    assert call(http, "DELETE", f"/p1/volumes/{vol.id}", "3.23", http.admin, force="true").status_code == 202
    assert vol.id not in http.fast.volume_ids()


# -- what volclone does not serve: the documented 404s and refusals ------------------------------------------
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/p1/backups"), ("GET", "/p1/backups/detail"), ("GET", "/p1/clusters"), ("GET", "/p1/clusters/detail"),
    ("GET", "/p1/manageable_volumes"), ("GET", "/p1/manageable_snapshots"), ("POST", "/p1/workers/cleanup"),
    ("GET", "/p1/consistencygroups"), ("GET", "/p1/cgsnapshots"),
])
def test_resources_volclone_does_not_serve_are_404s(http: Http, method: str, path: str) -> None:
    fault(call(http, method, path, "3.71", body={} if method == "POST" else None), 404, "itemNotFound")


@pytest.mark.parametrize("action", [
    {"os-volume_upload_image": {"image_name": "i"}},
    {"os-reimage": {"image_id": "00000000-0000-0000-0000-000000000000"}},
    {"os-migrate_volume": {"host": "h"}},
])
def test_image_and_migration_actions_are_not_served(http: Http, action: dict[str, Any]) -> None:
    vol = http.fast.volume(1)
    fault(call(http, "POST", f"/p1/volumes/{vol.id}/action", "3.71", http.admin, action), 400, "badRequest",
          next(iter(action)))


def test_a_user_s_unknown_attachment_filter_is_a_400_from_3_33(http: Http) -> None:
    vol = http.fast.volume(1)
    ok(http, "POST", "/p1/attachments", "3.27",
            body={"attachment": {"volume_uuid": vol.id, "instance_uuid": None, "connector": {"host": "h"}}})
    assert len(ok(http, "GET", "/p1/attachments", "3.32", colour="red")["attachments"]) == 1  # ignored
    fault(call(http, "GET", "/p1/attachments", "3.33", colour="red"), 400, "badRequest", "colour")
    assert len(ok(http, "GET", "/p1/attachments/detail", "3.33", volume_id=vol.id)["attachments"]) == 1
    # An admin's filter on a field attachments have not matches none (Cinder's database finds none).
    assert ok(http, "GET", "/p1/attachments", "3.33", token=http.admin, colour="red",
                   all_tenants="1")["attachments"] == []
    assert len(ok(http, "GET", "/p1/attachments", "3.33", token=http.admin, volume_id=vol.id,
                       all_tenants="1")["attachments"]) == 1
