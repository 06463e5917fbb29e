# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""Group type lists as Cinder's (``cinder/api/v3/group_types.py``): the ``is_public`` filter
(admins choose; anyone else gets the public types), ``sort``/``sort_key``/``sort_dir``, and
paging (``marker``, ``limit``, ``offset``); bad values are 400s, an unknown marker a 404."""

from __future__ import annotations

import pytest

from .test_groups import GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import fault


def names(http: GroupHttp, query: str = "", token: str | None = None) -> list[str]:
    listed = http.ok("GET", f"/group_types{query}", token=token or http.admin)["group_types"]
    return [t["name"] for t in listed]


@pytest.fixture
def made(http: GroupHttp) -> dict[str, str]:
    """b (public), a (private), c (public, described), made in that order."""
    return {t["name"]: t["id"] for t in (http.group_type("b"), http.group_type("a", is_public=False),
                                          http.group_type("c", description="zz"))}


def test_is_public_as_tempest_sends_it(http: GroupHttp, made: dict[str, str]) -> None:
    assert names(http, "?is_public=None&sort=name:asc") == ["a", "b", "c"]  # "None": every type
    assert names(http, "?is_public=None&sort=name:desc") == ["c", "b", "a"]
    assert names(http, "?is_public=False") == ["a"]
    assert names(http, "?is_public=True") == names(http) == ["b", "c"]
    # Anyone but an admin gets the public types, whatever is_public says.
    assert names(http, "?is_public=false", token=http.member) == ["b", "c"]
    assert names(http, "?is_public=none", token=http.member) == ["b", "c"]
    fault(http.call("GET", "/group_types?is_public=maybe", token=http.admin), 400, "badRequest", "is_public")


def test_sort_keys_and_directions(http: GroupHttp, made: dict[str, str]) -> None:
    every = "?is_public=none"
    assert names(http, every) == ["b", "a", "c"]  # the order they were made
    assert names(http, every + "&sort=created_at:desc") == ["c", "a", "b"]
    assert names(http, every + "&sort=is_public:asc,name:desc") == ["a", "c", "b"]
    assert names(http, every + "&sort=description:desc") == ["c", "b", "a"]  # no description sorts as ""
    assert names(http, every + "&sort_key=name&sort_dir=asc") == ["a", "b", "c"]
    assert names(http, every + "&sort_key=name") == ["c", "b", "a"]  # Cinder's default direction: desc
    ids = sorted(made.values())
    listed = http.ok("GET", f"/group_types{every}&sort=id:asc", token=http.admin)["group_types"]
    assert [t["id"] for t in listed] == ids
    for bad in ("sort=nope:asc", "sort=name:up", "sort=name&sort_key=name"):
        fault(http.call("GET", f"/group_types?{bad}", token=http.admin), 400, "badRequest")


def test_paging(http: GroupHttp, made: dict[str, str]) -> None:
    every = "?is_public=none&sort=name:asc"
    assert names(http, every + "&limit=2") == ["a", "b"]
    assert names(http, every + f"&marker={made['a']}") == ["b", "c"]
    assert names(http, every + f"&marker={made['a']}&limit=1") == ["b"]
    assert names(http, every + "&offset=1&limit=1") == ["b"]
    assert names(http, every + "&offset=5") == []
    assert names(http, every + "&limit=0") == []
    fault(http.call("GET", "/group_types?marker=nope", token=http.admin), 404, "itemNotFound", "nope")
    # A private type is no marker for one who can't see it.
    fault(http.call("GET", f"/group_types?marker={made['a']}"), 404, "itemNotFound")
    for bad in ("limit=-1", "limit=x", "offset=-1", "offset=x"):
        fault(http.call("GET", f"/group_types?{bad}", token=http.admin), 400, "badRequest")


def test_other_parameters_are_ignored_as_cinder_ignores_them(http: GroupHttp, made: dict[str, str]) -> None:
    assert names(http, "?name=b&is_public=none") == ["b", "a", "c"]
