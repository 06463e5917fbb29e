# ruff: noqa: F811 (the ``http`` fixture, imported from test_groups, is the tests' parameter)
"""``limit`` and ``offset`` on every list, read as Cinder's ``get_pagination_params`` reads them
(one ``volclone.api.listing.page_params``): a limit above 1000 is cut to 1000, not refused; a
limit or offset that is not an integer, or out of range, is Cinder's 400."""

from __future__ import annotations

from typing import Any

import pytest

from .test_group_snapshots import _create, _group_with
from .test_groups import GroupHttp, http  # noqa: F401 (the fixture)
from .test_volume_actions import attach, fault

#: (path, microversion: the first that pages the list, the answer's key).
LISTS = [
    ("/volumes", "3.0", "volumes"),
    ("/volumes/detail", "3.0", "volumes"),
    ("/snapshots", "3.0", "snapshots"),
    ("/snapshots/detail", "3.0", "snapshots"),
    ("/groups", "3.13", "groups"),
    ("/groups/detail", "3.13", "groups"),
    ("/group_snapshots", "3.29", "group_snapshots"),
    ("/group_types", "3.11", "group_types"),
    ("/attachments", "3.27", "attachments"),
    ("/os-volume-transfer", "3.0", "transfers"),
    ("/volume-transfers", "3.55", "transfers"),
    ("/messages", "3.5", "messages"),
]
LIST_IDS = [f"{path}@{version}" for path, version, _ in LISTS]
#: Cinder's faults: ``_get_limit_param``'s, and oslo's ``validate_integer``'s for the offset.
BAD = [
    ("limit=-1", "limit param must be positive"),
    ("limit=x", "limit param must be an integer"),
    ("limit=1.5", "limit param must be an integer"),
    ("offset=-1", "offset must be >= 0"),
    ("offset=x", "offset must be an integer"),
    (f"offset={2**31}", "offset must be <= 2147483647"),
]


@pytest.fixture
def one_of_each(http: GroupHttp) -> None:
    """At least one item in every list of :data:`LISTS`, all of project p1."""
    fast = http.fast
    group, _ = _group_with(http, 1)
    assert _create(http, group["id"]).status_code == 202
    snapped, offered, attached = (fast.volume(1).id for _ in range(3))
    http.ok("POST", "/snapshots", {"snapshot": {"volume_id": snapped}}, status=202)
    http.ok("POST", "/os-volume-transfer", {"transfer": {"volume_id": offered}}, status=202)
    attach(fast, attached)
    fast.mem.inject("create_volume")  # a failed create leaves a user message
    assert http.call("POST", "/volumes", {"volume": {"size": 1}}).status_code >= 500


def _listed(http: GroupHttp, path: str, version: str, key: str, query: str = "") -> list[Any]:
    return http.ok("GET", f"{path}?{query}", version=version)[key]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "version", "key"), LISTS, ids=LIST_IDS)
def test_a_limit_above_1000_is_cut_not_refused(http: GroupHttp, one_of_each: None, path: str, version: str,
                                               key: str) -> None:
    every = _listed(http, path, version, key)
    assert every, "the fixture made one"
    assert _listed(http, path, version, key, "limit=1001") == every
    assert _listed(http, path, version, key, f"limit={2**40}&offset=0") == every
    assert _listed(http, path, version, key, "limit=1") == every[:1]
    assert _listed(http, path, version, key, f"offset={len(every)}") == []


@pytest.mark.parametrize(("path", "version", "key"), LISTS, ids=LIST_IDS)
def test_a_bad_limit_or_offset_is_cinders_400(http: GroupHttp, path: str, version: str, key: str) -> None:
    # One service for the six queries: each is refused before anything is read.
    for query, message in BAD:
        assert fault(http.call("GET", f"{path}?{query}", version=version), 400, "badRequest") == message, query
