"""Volume lists as Cinder serves them: filters, sort orders, pages after a marker, with_count and the
summary, per microversion; parsed as the API parses them (``listing.volume_list``) and run by the
service on the real database (SQLite, or PostgreSQL with ``VOLCLONE_TEST_DATABASE=postgresql``).

The microversions past the server's maximum today (3.33's resource filters, 3.34's ``name~``,
3.36, 3.45's ``with_count``) are asked of the parser directly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from volclone.api import listing
from volclone.domain import Principal, Volume
from volclone.errors import BadRequest, NotFound

V = (3, 27)


def listed(fast: Any, version: tuple[int, int] = V, who: Principal | None = None,
           project: str = "p1", **params: str) -> list[Volume]:
    """What ``GET /volumes?params`` lists for ``who`` (default: p1's member)."""
    who = who or fast.who
    parsed = listing.volume_list(params.items(), version, who.is_admin)
    return fast.svc.volumes.page(who, project, parsed.query, parsed.all_projects)  # type: ignore[no-any-return]


def names(vols: list[Volume]) -> list[str | None]:
    return [v.name for v in vols]


def set_created(fast: Any, vol: Volume, at: dt.datetime) -> None:
    assert fast.db_execute("UPDATE volumes SET created_at = ? WHERE id = ?", at, vol.id) == 1


@pytest.fixture
def three(fast: Any) -> list[Volume]:
    """a (1 GiB, {"tier": "gold"}), b (2 GiB, error), c (3 GiB, {"tier": "silver"}), created in this order."""
    a = fast.volume(1, "a", metadata={"tier": "gold"})
    b = fast.volume(2, "b")
    c = fast.volume(3, "c", metadata={"tier": "silver", "k": "v"})
    fast.set_status(b.id, "error")
    base = dt.datetime(2026, 1, 1)
    for i, v in enumerate((a, b, c)):
        set_created(fast, v, base + dt.timedelta(minutes=i))
    return [a, b, c]


# -- filters ------------------------------------------------------------------------------
def test_default_order_is_newest_first(fast, three):
    assert names(listed(fast)) == ["c", "b", "a"]


def test_filter_by_name_status_and_metadata(fast, three):
    assert names(listed(fast, name="b")) == ["b"]
    assert names(listed(fast, status="available")) == ["c", "a"]
    assert names(listed(fast, metadata='{"tier": "gold"}')) == ["a"]
    assert names(listed(fast, metadata="{'tier': 'silver', 'k': 'v'}")) == ["c"]
    assert names(listed(fast, metadata='{"tier": "silver", "k": "x"}')) == []
    assert names(listed(fast, metadata="{}")) == ["c", "b", "a"]


def test_a_metadata_filter_that_is_not_a_dict_matches_nothing(fast, three):
    assert listed(fast, metadata="tier=gold") == []
    assert listed(fast, metadata="['tier']") == []


def test_a_name_is_taken_as_given_not_as_a_literal(fast):
    fast.volume(1, '"quoted"')
    fast.volume(1, "quoted")
    assert names(listed(fast, name='"quoted"')) == ['"quoted"']


def test_volume_type_by_name_or_id_for_admins(fast, three):
    t = fast.svc.types.create(fast.admin, "fast")
    fast.volume(1, "typed", volume_type="fast")
    admin = dict(who=fast.admin)
    assert names(listed(fast, **admin, volume_type="fast")) == ["typed"]
    assert names(listed(fast, **admin, volume_type=t.id)) == ["typed"]
    assert listed(fast, **admin, volume_type="no-such-type") == []
    # A user's volume_type is not one of Cinder's user filters: ignored below 3.33, a 400 from it.
    assert len(listed(fast, volume_type="fast")) == 4
    with pytest.raises(BadRequest, match="Invalid filters volume_type are found"):
        listed(fast, (3, 33), volume_type="fast")


def test_constant_fields(fast, three):
    assert listed(fast, bootable="true") == []
    assert len(listed(fast, bootable="False")) == 3
    assert len(listed(fast, availability_zone="nova")) == 3
    assert listed(fast, availability_zone="elsewhere") == []
    assert listed(fast, (3, 10), group_id="g1") == []
    assert len(listed(fast, (3, 9), group_id="g1")) == 3  # not a filter before 3.10
    with pytest.raises(BadRequest, match="not a boolean"):
        listed(fast, bootable="maybe")


def test_a_users_unknown_filter_is_ignored_below_3_33_and_a_400_from_it(fast, three):
    parsed = listing.volume_list([("foo", "1"), ("name", "a")], (3, 32), False)
    assert parsed.ignored == ("foo",)
    assert names(listed(fast, (3, 32), foo="1", name="a")) == ["a"]
    with pytest.raises(BadRequest, match="Invalid filters foo,bar are found in query options"):
        listed(fast, (3, 33), foo="1", bar="2")
    assert names(listed(fast, (3, 33), all_tenants="1", name="a")) == ["a"]  # all_tenants is never invalid


def test_an_admins_filter_on_no_field_matches_nothing_as_in_cinder(fast, three):
    assert listed(fast, who=fast.admin, foo="1") == []
    assert names(listed(fast, who=fast.admin, size="2")) == ["b"]
    assert listed(fast, who=fast.admin, size="two") == []


def test_like_filters_from_3_34(fast, three):
    fast.volume(1, "Backup-50%_x")
    fast.volume(1, "backup-500x")
    assert names(listed(fast, (3, 34), **{"name~": "BACKUP"})) == ["backup-500x", "Backup-50%_x"]
    assert names(listed(fast, (3, 34), **{"name~": "50%_"})) == ["Backup-50%_x"]  # % and _ are plain text
    with pytest.raises(BadRequest, match="Invalid filters name~"):
        listed(fast, (3, 33), **{"name~": "b"})
    assert len(listed(fast, (3, 27), **{"name~": "zzz"})) == 5  # ignored below 3.33


def test_all_tenants(fast, three):
    other = fast.volume(1, "theirs", project="p2")
    assert other.id not in {v.id for v in listed(fast, all_tenants="true")}  # a user: own project only
    assert other.id in {v.id for v in listed(fast, who=fast.admin, all_tenants="yes")}
    assert other.id not in {v.id for v in listed(fast, who=fast.admin, all_tenants="0")}
    with pytest.raises(BadRequest, match="'all_tenants' is not a boolean"):
        listed(fast, all_tenants="everyone")


# -- sort orders ----------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "order"), [
    ({"sort": "size:asc"}, ["a", "b", "c"]),
    ({"sort": "name:desc"}, ["c", "b", "a"]),
    ({"sort": "status,size:asc"}, ["b", "a", "c"]),  # status desc (error first), then size asc
    ({"sort": "status:asc,size:desc"}, ["c", "a", "b"]),
    ({"sort_key": "size", "sort_dir": "asc"}, ["a", "b", "c"]),
    ({"sort_key": "name"}, ["c", "b", "a"]),
    ({"sort": "created_at:asc"}, ["a", "b", "c"]),
    ({"sort": "bootable:asc"}, ["a", "b", "c"]),  # the same on every volume: only its direction counts
    ({"sort": "bootable:desc,size:asc"}, ["a", "b", "c"]),
])
def test_sort(fast, three, params, order):
    assert names(listed(fast, **params)) == order


def test_a_volume_without_a_name_sorts_first_ascending_on_either_database(fast, three):
    fast.volume(1, None)
    assert names(listed(fast, sort="name:asc")) == [None, "a", "b", "c"]


@pytest.mark.parametrize(("params", "says"), [
    ({"sort": "colour"}, "Invalid sort key"),
    ({"sort": "name:up"}, "must be 'desc' or 'asc'"),
    ({"sort": "name:ASC"}, "must be 'desc' or 'asc'"),
    ({"sort": ""}, "Invalid sort key"),
    ({"sort": "name", "sort_key": "size"}, "cannot be used with the 'sort' parameter"),
    ({"sort_dir": "sideways"}, "must be 'desc' or 'asc'"),
    ({"limit": "ten"}, "limit param must be an integer"),
    ({"limit": "-1"}, "limit param must be positive"),
    ({"limit": "1.5"}, "limit param must be an integer"),
    ({"offset": "x"}, "offset must be an integer"),
    ({"offset": "-2"}, "offset must be >= 0"),
    ({"offset": str(2**31)}, "offset must be <= 2147483647"),
])
def test_bad_paging_is_a_400(fast, three, params, says):
    with pytest.raises(BadRequest, match=says):
        listed(fast, **params)


# -- pages --------------------------------------------------------------------------------
def walk(fast: Any, limit: int, **params: str) -> Iterator[list[Volume]]:
    """Every page of a list, each asked after the last one's last volume."""
    marker: str | None = None
    for _ in range(100):  # a bound: a keyset that never moves on would loop for ever
        page = listed(fast, limit=str(limit), **params, **({"marker": marker} if marker else {}))
        if not page:
            return
        assert len(page) <= limit
        yield page
        marker = page[-1].id
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("sort", [None, "size:asc", "size:desc,name:asc", "name:asc", "status:asc,size:asc"])
def test_pages_after_markers_are_the_list_with_no_gap_and_no_repeat(fast, sort):
    # Equal sort keys everywhere: 5 sizes, 3 names, 2 statuses, and every created_at the same,
    # so only the id tiebreaker makes the order total.
    vols = [fast.volume(1 + i % 5, f"n{i % 3}") for i in range(23)]
    for v in vols[::4]:
        fast.set_status(v.id, "error")
    for v in vols:
        set_created(fast, v, dt.datetime(2026, 1, 1))
    params = {"sort": sort} if sort else {}
    whole = [v.id for v in listed(fast, **params)]
    assert sorted(whole) == sorted(v.id for v in vols)
    pages = list(walk(fast, 4, **params))
    assert [v.id for page in pages for v in page] == whole
    assert [len(p) for p in pages] == [4] * 5 + [3]


def test_offset_skips_after_the_marker(fast, three):
    a, b, c = three
    assert names(listed(fast, offset="1")) == ["b", "a"]
    assert names(listed(fast, marker=c.id, offset="1")) == ["a"]
    assert names(listed(fast, marker=c.id, offset="1", limit="0")) == []


def test_limit_is_at_most_1000(fast):
    parsed = listing.volume_list([("limit", "5000")], V, False)
    assert parsed.limit == parsed.query.limit == listing.MAX_LIMIT
    assert listing.volume_list([], V, False).query.limit == listing.MAX_LIMIT


def test_a_marker_no_volume_has_is_a_404_as_in_cinder(fast, three):
    with pytest.raises(NotFound, match="Volume 00000000-0000-0000-0000-000000000007 could not be found"):
        listed(fast, marker="00000000-0000-0000-0000-000000000007")
    with pytest.raises(NotFound):
        listed(fast, marker="bad\x00marker")


def test_a_marker_of_another_project_is_not_found_for_a_user_and_found_for_an_admin(fast, three):
    theirs = fast.volume(1, "theirs", project="p2")
    with pytest.raises(NotFound):
        listed(fast, marker=theirs.id)
    listed(fast, who=fast.admin, marker=theirs.id)  # an admin sees it: the page starts after it


def test_a_marker_the_filters_leave_out_still_places_the_page(fast, three):
    a, b, c = three
    assert names(listed(fast, status="available", marker=b.id)) == ["a"]


@contextlib.contextmanager
def statements(fast: Any) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = fast.svc.volumes.repo.db.engine

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_page_is_cut_by_the_database(fast, three):
    a, b, c = three
    with statements(fast) as seen:
        assert names(listed(fast, limit="1", marker=c.id, sort="size:desc")) == ["b"]
    [page] = [sql for sql in seen if "FROM volumes" in sql and "ORDER BY" in sql]
    assert "LIMIT" in page and "WHERE" in page


# -- with_count and the summary ---------------------------------------------------------------
def test_with_count_from_3_45(fast, three):
    parsed = listing.volume_list([("with_count", "true"), ("limit", "1"), ("status", "available")], (3, 45), False)
    assert parsed.with_count
    assert fast.svc.volumes.count(fast.who, "p1", parsed.query) == 2
    assert len(fast.svc.volumes.page(fast.who, "p1", parsed.query)) == 1
    # Below 3.45 with_count is a filter like any other: a user's is ignored below 3.33 ...
    assert not listing.volume_list([("with_count", "true")], (3, 32), False).with_count
    assert len(listed(fast, (3, 32), with_count="true")) == 3
    with pytest.raises(BadRequest, match="Invalid filters with_count"):  # ... and invalid from it
        listed(fast, (3, 44), with_count="true")
    with pytest.raises(BadRequest, match="not a boolean"):
        listing.volume_list([("with_count", "sure")], (3, 45), False)


def test_summary(fast, three):
    fast.volume(5, "theirs", project="p2", metadata={"tier": "bronze"})
    s = fast.svc.volumes.summary(fast.who, "p1")
    assert (s.total_count, s.total_size) == (3, 6)
    assert s.metadata == {"k": ["v"], "tier": ["gold", "silver"]}
    everyone = fast.svc.volumes.summary(fast.admin, "p1", all_projects=True)
    assert (everyone.total_count, everyone.total_size) == (4, 11)
    assert everyone.metadata["tier"] == ["bronze", "gold", "silver"]
    assert fast.svc.volumes.summary(fast.who, "p1", all_projects=True).total_count == 3  # a user: own only
    empty = fast.svc.volumes.summary(fast.who, "p3")
    assert (empty.total_count, empty.total_size, empty.metadata) == (0, 0, {})


@pytest.mark.parametrize("key", ['a"b', "a\\b", "a.b", "$", "a[0]", "*", "ключ", "a'b", " "])
def test_any_metadata_key_is_matched_as_text(fast, key):
    vol = fast.volume(1, "odd", metadata={key: "v", "other": "w"})
    fast.volume(1, "plain", metadata={"other": "w"})
    assert [v.id for v in listed(fast, metadata=repr({key: "v"}))] == [vol.id]
    assert listed(fast, metadata=repr({key: "x"})) == []


@pytest.mark.parametrize("size", [str(2**63), str(-(2**63) - 1), "1e400", "True"])
def test_a_size_no_volume_can_have_matches_nothing(fast, three, size):
    assert listed(fast, who=fast.admin, size=size) == []


# -- the gates through the app ------------------------------------------------------------------
def test_the_list_gates_through_the_app(fast, three):
    from starlette.testclient import TestClient

    from volclone.api import versions
    from volclone.api.app import create_app

    assert versions.MAX_VERSION >= (3, 45)
    token = fast.svc.auth.create_token("p1")

    def get(version: str, path: str, **params: str) -> Any:
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"volume {version}"}
        return client.get(f"/v3/p1/{path}", headers=headers, params=params)

    with TestClient(create_app(fast.svc, manage_lifecycle=False)) as client:
        body = get("3.45", "volumes", with_count="true", limit="1", status="available").json()
        assert (len(body["volumes"]), body["count"]) == (1, 2)
        assert "volumes_links" in body
        assert get("3.44", "volumes", with_count="true").status_code == 400  # a filter a user may not give
        assert "count" not in get("3.32", "volumes", with_count="true").json()  # ignored
        assert get("3.36", "volumes/summary").json()["volume-summary"]["metadata"] == {
            "k": ["v"], "tier": ["gold", "silver"]}
        assert "metadata" not in get("3.35", "volumes/summary").json()["volume-summary"]
        assert get("3.11", "volumes/summary").status_code == 404
        assert [v["name"] for v in get("3.34", "volumes", **{"name~": "B"}).json()["volumes"]] == ["b"]
        assert get("3.33", "volumes", **{"name~": "B"}).status_code == 400
