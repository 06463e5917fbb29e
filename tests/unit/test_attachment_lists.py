# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""Attachment lists' filters through the API in process (memory driver), as Cinder's
``cinder/api/v3/attachments.py``: a user's are the resource filters (others dropped below 3.33, a
400 from 3.33); an admin's name any field, and from 3.34 ``key~`` holds a part of it, in any case."""

from __future__ import annotations

from typing import Any

import pytest

from .test_groups import Http, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault

INSTANCES = ("4d2e0c4a-0000-4000-8000-00000000aaaa", "9f1b7e22-0000-4000-8000-00000000bbbb")


@pytest.fixture
def made(http: Http) -> dict[str, Any]:
    """An attachment (attaching) to each instance, each of its own volume, and one reserved (no
    connector) of the first instance."""
    ids = []
    for instance, connector in ((INSTANCES[0], {"host": "h"}), (INSTANCES[1], {"host": "h"}), (INSTANCES[0], None)):
        vol = http.fast.volume(1)
        body = {"attachment": {"volume_uuid": vol.id, "instance_uuid": instance, "connector": connector}}
        ids.append(http.ok("POST", "/attachments", body, version="3.27")["attachment"]["id"])
    return {"ids": ids}


def _ids(http: Http, query: str, version: str = "3.34", **kw: Any) -> list[str]:
    """The ids listed, oldest first (the lists' default is Cinder's, newest first)."""
    path = f"/attachments?sort=created_at:asc&{query}"
    return [a["id"] for a in http.ok("GET", path, version=version, **kw)["attachments"]]


def _admin(http: Http, query: str, version: str = "3.34") -> list[str]:
    return _ids(http, f"all_tenants=1&{query}", version=version, token=http.admin, project="admin")


def test_an_admins_like_filters(http: Http, made: dict[str, Any]) -> None:
    a, b, reserved = made["ids"]
    assert _admin(http, "instance_id~=4D2E") == [a, reserved]  # a part, in any case
    assert _admin(http, "instance_id~=BBBB") == [b]
    assert _admin(http, "attach_status~=ATTACH") == [a, b]
    assert _admin(http, "status~=serv") == [reserved]
    assert _admin(http, f"id~={b[9:20]}") == [b]
    assert _admin(http, "instance_id~=4d2e&attach_status=reserved") == [reserved]
    assert _admin(http, "instance_id~=%") == []  # % is itself
    assert _admin(http, "instance_id~=4d2e", version="3.33") == []  # no like filters before 3.34


def test_an_admins_filters_on_any_field(http: Http, made: dict[str, Any]) -> None:
    a, b, reserved = made["ids"]
    assert _admin(http, f"instance_uuid={INSTANCES[1]}", version="3.33") == [b]
    assert _admin(http, "attach_mode=rw&project_id=p1") == [a, b, reserved]
    assert _admin(http, "colour=red") == [] and _admin(http, "colour~=red") == []  # a field attachments have not


def test_a_users_filters(http: Http, made: dict[str, Any]) -> None:
    a, b, reserved = made["ids"]
    assert _ids(http, f"instance_id={INSTANCES[0]}&status=attaching") == [a]
    fault(http.call("GET", "/attachments?instance_id~=4d2e", version="3.34"), 400, "badRequest", "instance_id~")
    fault(http.call("GET", "/attachments/detail?mountpoint=x", version="3.33"), 400, "badRequest", "mountpoint")
    # Below 3.33 a user's other filters are dropped (Cinder's remove_invalid_filter_options).
    assert _ids(http, "instance_id~=4d2e&colour=red", version="3.32") == [a, b, reserved]
    assert _ids(http, "all_tenants=1", version="3.33") == [a, b, reserved]  # the user's own, and no 400


def test_the_page_limit_marker_offset_sort_and_next_link(http: Http, made: dict[str, Any]) -> None:
    """Cinder's pagination and sort params on attachment lists: newest first by default, a full
    page links to the next one from its last attachment."""
    a, b, reserved = made["ids"]
    listed = http.ok("GET", "/attachments", version="3.27")
    assert [x["id"] for x in listed["attachments"]] == [reserved, b, a] and "attachments_links" not in listed
    first = http.ok("GET", "/attachments/detail?limit=2", version="3.27")
    assert [x["id"] for x in first["attachments"]] == [reserved, b]
    [link] = first["attachments_links"]
    assert link["rel"] == "next" and f"marker={b}" in link["href"] and "/attachments/detail?" in link["href"]
    rest = http.ok("GET", f"/attachments/detail?limit=2&marker={b}", version="3.27")
    assert [x["id"] for x in rest["attachments"]] == [a] and "attachments_links" not in rest
    assert [x["id"] for x in http.ok("GET", "/attachments?offset=1&limit=1", version="3.27")["attachments"]] == [b]
    assert _ids(http, "", version="3.27") == [a, b, reserved]
    by_status = http.ok("GET", "/attachments?sort=status:asc,created_at:asc", version="3.27")["attachments"]
    assert [x["id"] for x in by_status] == [a, b, reserved]  # attaching < reserved
    fault(http.call("GET", "/attachments?sort=colour", version="3.27"), 400, "badRequest")
    fault(http.call("GET", "/attachments?limit=-1", version="3.27"), 400, "badRequest")
    fault(http.call("GET", "/attachments?marker=00000000-0000-4000-8000-000000000000", version="3.27"), 404,
          "itemNotFound")
    other = http.call("GET", f"/attachments?marker={a}", version="3.27", token=http.other, project="p2")
    fault(other, 404, "itemNotFound")  # another project's marker is not found either
