"""What PostgreSQL refuses and SQLite takes: text longer than its column and text with a NUL.
The repositories answer BadRequest (400) or "not there" (404), never a DataError (500)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import PgDatabases
from volclone.db import repos
from volclone.db.database import Database, make_engine
from volclone.db.generic_groups import Groups
from volclone.domain import PageQuery, Principal
from volclone.errors import BadRequest


@pytest.fixture
def db(pg: PgDatabases) -> Iterator[Database]:
    engine = make_engine(pg.fresh())
    yield Database(engine)
    engine.dispose()


def test_a_value_longer_than_its_column_is_a_bad_request(db):
    with pytest.raises(BadRequest, match="too long"):
        repos.Tokens(db).add("t0", Principal("p" * 256))  # project ids are VARCHAR(255)
    with pytest.raises(BadRequest, match="not valid text"):
        repos.Tokens(db).add("t1", Principal("a\x00b"))  # PostgreSQL text holds no NUL
    assert repos.Tokens(db).find("t0") is None and repos.Tokens(db).find("t1") is None  # nothing was stored


def test_ids_with_a_nul_are_not_found(db):
    assert repos.Volumes(db).get("a\x00b") is None
    assert repos.Volumes(db).get_many(["a\x00b", "c"]) == {}
    assert repos.Volumes(db).list("p1", {"name": "a\x00b"}) == []
    assert repos.VolumeTypes(db).get("a\x00b") is None
    assert repos.VolumeTypes(db).by_name("a\x00b") is None
    assert repos.Attachments(db).get("a\x00b") is None
    assert repos.Attachments(db).list(volume_id="a\x00b") == []
    assert repos.CloneTasks(db).get("a\x00b") is None
    assert repos.BackendConfigs(db).get("a\x00b") is None


def test_list_filters_with_a_nul_match_nothing(db):
    """An admin's group or attachment list filter holding a NUL (``name~=a%00b``) finds nothing,
    where PostgreSQL would refuse the comparison (a 500)."""
    for query in (PageQuery(equal=(("name", "a\x00b"),)), PageQuery(contains=(("name", "a\x00b"),)),
                  PageQuery(marker="a\x00b")):
        assert Groups(db).page(None, query) == []
    for query in (PageQuery(equal=(("instance_uuid", "a\x00b"),)), PageQuery(contains=(("status", "\x00"),))):
        assert repos.Attachments(db).page(None, query) == []
