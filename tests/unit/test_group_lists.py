# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""Group lists' filters and sort through the API in process (memory driver), as Cinder's
``cinder/api/v3/groups.py``: below 3.33 anyone's filter names a field; from 3.33 a user's is a 400
(Cinder's default resource filters name none for groups); an admin's names any field, and from
3.34 ``key~`` holds a part of it, in any case."""

from __future__ import annotations

from typing import Any

import pytest

from .test_groups import GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault

NAMES = ("Nightly-b", "weekly", "nightly-a", "100%_full")


@pytest.fixture
def made(http: GroupHttp) -> dict[str, Any]:
    """Four groups of p1 (made in NAMES' order), one of them in error, and one of p2."""
    gt = http.group_type()["id"]
    ids = [http.group(gt, name=name, description=f"about {name}")["id"] for name in NAMES]
    lone = http.ok("POST", "/groups", {"group": {"group_type": gt, "volume_types": ["__DEFAULT__"], "name": "lone"}},
                   status=202, token=http.other, project="p2")["group"]["id"]
    http.ok("POST", f"/groups/{ids[1]}/action", {"reset_status": {"status": "error"}}, status=202,
            token=http.admin, version="3.20")
    return {"ids": ids, "lone": lone}


def _names(http: GroupHttp, query: str, version: str = "3.14", **kw: Any) -> list[str]:
    return [g["name"] for g in http.ok("GET", f"/groups/detail?{query}", version=version, **kw)["groups"]]


def _admin(http: GroupHttp, query: str, version: str = "3.34") -> list[str]:
    return _names(http, f"all_tenants=1&sort=name:asc&{query}", version=version, token=http.admin, project="admin")


def test_a_users_filters_below_3_33(http: GroupHttp, made: dict[str, Any]) -> None:
    assert _names(http, "name=weekly") == ["weekly"]
    assert _names(http, "status=error", version="3.32") == ["weekly"]
    assert _names(http, f"id={made['ids'][2]}") == ["nightly-a"]
    assert _names(http, "bogus=1") == []  # a field a group has not matches nothing
    assert _names(http, f"id={made['lone']}") == []  # another project's is not the user's


def test_a_users_filters_are_a_400_from_3_33(http: GroupHttp, made: dict[str, Any]) -> None:
    fault(http.call("GET", "/groups?name=weekly", version="3.33"), 400, "badRequest", "name")
    fault(http.call("GET", "/groups/detail?name~=week&status=error", version="3.34"), 400, "badRequest",
          "name~", "status")
    # all_tenants, list_volume, sort and paging are not filters.
    assert len(_names(http, "all_tenants=1&list_volume=true&sort=name&limit=9&offset=0", version="3.34")) == 4
    assert http.ok("GET", "/resource_filters?resource=group", version="3.33")["resource_filters"] == [
        {"resource": "group", "filters": []}]


def test_an_admins_filters_and_like_filters(http: GroupHttp, made: dict[str, Any]) -> None:
    assert _admin(http, "name~=NIGHTLY") == ["Nightly-b", "nightly-a"]  # a part, in any case
    assert _admin(http, "name~=0%_") == ["100%_full"]  # % and _ are themselves
    assert _admin(http, "name~=_") == ["100%_full"]
    assert _admin(http, "description~=ABOUT W") == ["weekly"]
    assert _admin(http, f"id~={made['lone'][:8]}") == ["lone"]
    assert _admin(http, "project_id~=2") == ["lone"]
    assert _admin(http, "status~=ERR") == ["weekly"]
    assert _admin(http, "name~=night&status=available") == ["Nightly-b", "nightly-a"]
    assert _admin(http, "name~=night", version="3.33") == []  # no like filters before 3.34
    assert _admin(http, "name=weekly", version="3.33") == ["weekly"]
    assert _admin(http, "size=1") == [] and _admin(http, "size~=1") == []  # a field groups have not


def test_sort_and_paging_with_filters(http: GroupHttp, made: dict[str, Any]) -> None:
    assert _names(http, "sort=name:asc") == sorted(NAMES)
    assert _names(http, "sort_key=name&sort_dir=desc") == sorted(NAMES, reverse=True)
    assert _names(http, "") == list(NAMES[::-1])  # newest first
    fault(http.call("GET", "/groups?sort=bogus"), 400, "badRequest", "bogus")
    first = http.ok("GET", "/groups?name~=night&limit=1&sort=name:asc", version="3.34", token=http.admin)
    assert [g["name"] for g in first["groups"]] == ["Nightly-b"]
    href = first["groups_links"][0]["href"]
    assert "name~=night" in href and f"marker={made['ids'][0]}" in href
    rest = http.ok("GET", f"/groups?name~=night&limit=1&sort=name:asc&marker={made['ids'][0]}", version="3.34",
                   token=http.admin)["groups"]
    assert [g["name"] for g in rest] == ["nightly-a"]
