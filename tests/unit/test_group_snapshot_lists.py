# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""3.29's group snapshot lists through the API in process (memory driver), as Cinder's
``cinder/api/v3/group_snapshots.py``: below 3.29 every parameter is ignored; from 3.29 sort,
paging (``group_snapshots_links``), ``all_tenants`` and filters (a user's: ``status`` and
``group_id`` from 3.33; an admin's: any field, and ``key~`` from 3.34)."""

from __future__ import annotations

from typing import Any

import pytest

from .test_group_snapshots import _create
from .test_groups import GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault

NAMES = ("Nightly-b", "weekly", "nightly-a", "100%_full")


@pytest.fixture
def made(http: GroupHttp) -> dict[str, Any]:
    """Four group snapshots of one group (made in NAMES' order) and one of another group."""
    gt = http.group_type()["id"]
    group, other = http.group(gt), http.group(gt, name="other")
    for g in (group, other):
        assert http.update(g["id"], add_volumes=http.fast.volume(1).id).status_code == 202
    ids = []
    for name in NAMES:
        r = _create(http, group["id"], name=name, description=f"about {name}")
        assert r.status_code == 202, r.text
        ids.append(r.json()["group_snapshot"]["id"])
    lone = _create(http, other["id"], name="lone").json()["group_snapshot"]["id"]
    r = http.call("POST", f"/group_snapshots/{ids[1]}/action", {"reset_status": {"status": "error"}},
                  token=http.admin, version="3.29")
    assert r.status_code == 202, r.text
    return {"group": group["id"], "other": other["id"], "ids": ids, "lone": lone}


def _ids(http: GroupHttp, query: str, version: str = "3.29", **kw: Any) -> list[str]:
    return [g["id"] for g in http.ok("GET", f"/group_snapshots?{query}", version=version, **kw)["group_snapshots"]]


def _names(http: GroupHttp, query: str, version: str = "3.29", **kw: Any) -> list[str]:
    body = http.ok("GET", f"/group_snapshots/detail?{query}", version=version, **kw)
    return [g["name"] for g in body["group_snapshots"]]


def test_below_3_29_every_parameter_is_ignored(http: GroupHttp, made: dict[str, Any]) -> None:
    newest_first = [made["lone"], *made["ids"][::-1]]
    assert _ids(http, "limit=1&sort=name:asc&status=error", version="3.28") == newest_first
    assert _ids(http, "limit=x&marker=nope&sort=bogus", version="3.14") == newest_first
    # Nor all_tenants (Cinder hands its database no parameter there).
    assert _ids(http, "all_tenants=1", version="3.28", token=http.admin, project="admin") == []
    assert len(_ids(http, "all_tenants=1", token=http.admin, project="admin")) == 5
    assert "group_snapshots_links" not in http.ok("GET", "/group_snapshots?limit=1", version="3.28")


def test_sort(http: GroupHttp, made: dict[str, Any]) -> None:
    assert _names(http, "sort=name:asc") == sorted([*NAMES, "lone"], key=str)
    assert _names(http, "sort=name") == sorted([*NAMES, "lone"], key=str, reverse=True)  # desc by default
    assert _names(http, "sort_key=name&sort_dir=asc") == sorted([*NAMES, "lone"], key=str)
    # status first (error < available reversed), then the tiebreakers in its direction.
    by_status = http.ok("GET", "/group_snapshots/detail?sort=status:desc,name:asc", version="3.29")
    assert [(g["status"], g["name"]) for g in by_status["group_snapshots"]][0] == ("error", "weekly")
    assert _ids(http, "sort=created_at:asc") == [*made["ids"], made["lone"]]
    lone_first = made["other"] < made["group"]
    four = made["ids"][::-1]
    assert _ids(http, "sort=group_id:asc,created_at:desc") == ([made["lone"], *four] if lone_first
                                                                else [*four, made["lone"]])


@pytest.mark.parametrize("query, words", [
    ("sort=bogus", ("sort key",)), ("sort=name:sideways", ("sort direction",)),
    ("sort_key=volume_id", ("sort key",)), ("sort=name&sort_key=name", ("sort_key",)),
    ("limit=x", ("limit",)), ("limit=-1", ("limit",)), ("offset=-1", ("offset",)), ("offset=y", ("offset",)),
    ("all_tenants=maybe", ("all_tenants",)),
])
def test_bad_parameters_are_a_400(http: GroupHttp, made: dict[str, Any], query: str, words: tuple[str, ...]) -> None:
    fault(http.call("GET", f"/group_snapshots/detail?{query}", version="3.29"), 400, "badRequest", *words)


def test_paging_with_next_links(http: GroupHttp, made: dict[str, Any]) -> None:
    every = _ids(http, "sort=name:asc")
    first = http.ok("GET", "/group_snapshots?limit=2&sort=name:asc", version="3.29")
    assert [g["id"] for g in first["group_snapshots"]] == every[:2]
    [link] = first["group_snapshots_links"]
    assert link["rel"] == "next"
    assert link["href"].startswith("http://testserver/v3/p1/group_snapshots?")
    assert link["href"].endswith(f"limit=2&sort=name%3Aasc&marker={every[1]}")
    nxt = link["href"].split("?", 1)[1]
    second = http.ok("GET", f"/group_snapshots?{nxt}", version="3.29")
    assert [g["id"] for g in second["group_snapshots"]] == every[2:4]
    last = http.ok("GET", f"/group_snapshots/detail?limit=2&sort=name:asc&marker={every[3]}", version="3.29")
    assert [g["id"] for g in last["group_snapshots"]] == every[4:]
    assert "group_snapshots_links" not in last  # a page that is not full is the last
    assert "/v3/p1/group_snapshots/detail?" in http.ok(
        "GET", "/group_snapshots/detail?limit=1", version="3.29")["group_snapshots_links"][0]["href"]
    assert _ids(http, "sort=name:asc&offset=3&limit=1") == every[3:4]
    assert _ids(http, "limit=5000") == _ids(http, "")  # cut to the most a page holds
    assert _ids(http, "limit=0") == []


def test_a_bad_marker_is_a_404(http: GroupHttp, made: dict[str, Any]) -> None:
    fault(http.call("GET", "/group_snapshots?marker=nope", version="3.29"), 404, "itemNotFound", "nope")
    # Another project's group snapshot is no marker of a member's.
    fault(http.call("GET", f"/group_snapshots?marker={made['lone']}", version="3.29", token=http.other,
                    project="p2"), 404, "itemNotFound")


def test_a_users_filters(http: GroupHttp, made: dict[str, Any]) -> None:
    assert _ids(http, "status=error") == [made["ids"][1]]
    assert _ids(http, f"group_id={made['other']}&status=available") == [made["lone"]]
    # From 3.33 only status and group_id (Cinder's default resource filters); before, any field.
    fault(http.call("GET", "/group_snapshots?name=weekly", version="3.33"), 400, "badRequest", "name")
    assert _ids(http, "name=weekly", version="3.32") == [made["ids"][1]]
    assert _ids(http, "bogus=1", version="3.32") == []
    fault(http.call("GET", "/group_snapshots?name~=week", version="3.34"), 400, "badRequest", "name~")
    assert "group_snapshot" in {r["resource"] for r in http.ok("GET", "/resource_filters", version="3.33")[
        "resource_filters"]}
    assert http.ok("GET", "/resource_filters?resource=group_snapshot", version="3.33")["resource_filters"] == [
        {"resource": "group_snapshot", "filters": ["group_id", "status"]}]


def test_an_admins_filters_and_like_filters(http: GroupHttp, made: dict[str, Any]) -> None:
    def admin(query: str, version: str = "3.34") -> list[str]:
        return _names(http, f"all_tenants=1&sort=name:asc&{query}", version=version, token=http.admin,
                      project="admin")

    assert admin("name~=NIGHTLY") == ["Nightly-b", "nightly-a"]  # a part, in any case
    assert admin("name~=0%_") == ["100%_full"]  # % and _ are themselves
    assert admin("name~=%") == ["100%_full"]
    assert admin("description~=about w") == ["weekly"]
    assert admin(f"group_id~={made['other'][:8]}") == ["lone"]
    assert admin("name~=night", version="3.33") == []  # no like filters before 3.34
    assert admin("name=weekly&project_id=p1") == ["weekly"]
    assert admin("size=1") == []  # a field a group snapshot has not matches nothing
