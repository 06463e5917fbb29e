"""Private volume types and their grants (Cinder's type access), ``PUT /types/{id}``'s rules and
the ``is_public`` list filter, on the in-process service (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from volclone.db.database import alembic_config, current_revision, make_engine, schema_drift
from volclone.domain import Principal
from volclone.errors import BadRequest, Conflict, NotFound
from volclone.service.auth import MEMBER_ROLES, READER_ROLES
from volclone.service.volumes import DEFAULT_TYPE

SPECS = {"volume_backend_name": "local", "tier": "gold", "multiattach": "<is> False"}
P2 = Principal("p2", roles=MEMBER_ROLES)


@pytest.fixture
def private(fast):
    return fast.svc.types.create(fast.admin, "secret", "for p1 only", is_public=False, extra_specs=SPECS)


def _ids(types):
    return {t.id for t in types}


def test_a_grant_lets_the_project_list_show_and_use_a_private_type(fast, private):
    types = fast.svc.types
    for who in (fast.who, P2):
        assert private.id not in _ids(types.list(who))
        with pytest.raises(NotFound):
            types.show(who, private.id)
    types.add_access(fast.admin, private.id, "p1")

    assert private.id in _ids(types.list(fast.who))
    shown = types.show(fast.who, private.id)
    assert (shown.name, shown.is_public) == ("secret", False)
    assert shown.extra_specs == {"multiattach": "<is> False"}, "a grant shows no more specs than a public type"
    reader = Principal("p1", roles=READER_ROLES)
    assert private.id in _ids(types.list(reader)), "the grant is the project's, whatever the role"
    for ref in (private.id, private.name):
        vol = fast.svc.volumes.create(fast.who, "p1", 1, volume_type=ref)
        assert vol.volume_type_id == private.id
    # Another project still finds nothing.
    assert private.id not in _ids(types.list(P2))
    for ref in (private.id, private.name):
        with pytest.raises(NotFound):
            fast.svc.volumes.create(P2, "p2", 1, volume_type=ref)


def test_removing_the_grant_hides_the_type_again_and_keeps_its_volumes(fast, private):
    types = fast.svc.types
    types.add_access(fast.admin, private.id, "p1")
    vol = fast.svc.volumes.create(fast.who, "p1", 1, volume_type=private.id)
    types.remove_access(fast.admin, private.id, "p1")
    assert private.id not in _ids(types.list(fast.who))
    with pytest.raises(NotFound):
        types.show(fast.who, private.id)
    with pytest.raises(NotFound):
        fast.svc.volumes.create(fast.who, "p1", 1, volume_type=private.id)
    assert fast.get(vol.id).volume_type_id == private.id


def test_the_access_list_names_the_granted_projects_in_order(fast, private):
    types = fast.svc.types
    assert types.access_list(fast.admin, private.id) == []
    for project in ("p2", "p1", "p3"):
        types.add_access(fast.admin, private.id, project)
    assert types.access_list(fast.admin, private.id) == ["p2", "p1", "p3"]
    types.remove_access(fast.admin, private.id, "p1")
    assert types.access_list(fast.admin, private.id) == ["p2", "p3"]


def test_grant_errors_are_cinders(fast, private):
    types = fast.svc.types
    types.add_access(fast.admin, private.id, "p1")
    with pytest.raises(Conflict, match="already exists"):
        types.add_access(fast.admin, private.id, "p1")
    with pytest.raises(NotFound, match="not found"):
        types.remove_access(fast.admin, private.id, "p2")
    with pytest.raises(NotFound):
        types.add_access(fast.admin, "no-such-type", "p1")
    public = types.create(fast.admin, "open")
    with pytest.raises(NotFound, match="public volume types"):
        types.access_list(fast.admin, public.id)


def test_deleting_a_type_drops_its_grants(fast, private):
    fast.svc.types.add_access(fast.admin, private.id, "p1")
    fast.svc.types.delete(fast.admin, private.id)
    assert fast.db_rows("SELECT * FROM volume_type_access") == []
    again = fast.svc.types.create(fast.admin, "secret", is_public=False)
    assert again.id not in _ids(fast.svc.types.list(fast.who)), "a new type of the old name has no old grant"


def test_the_is_public_filter_is_cinders_and_for_admins_only(fast, private):
    types = fast.svc.types
    other = types.create(fast.admin, "other-private", is_public=False)
    public = types.create(fast.admin, "public")
    default = types.find(DEFAULT_TYPE).id
    types.add_access(fast.admin, other.id, fast.admin.project_id)
    types.add_access(fast.admin, private.id, "p1")
    # admin: true (Cinder's default) = public ones and those granted to the admin's own project
    assert _ids(types.list(fast.admin)) == {default, public.id, other.id}
    assert _ids(types.list(fast.admin, is_public=False)) == {private.id, other.id}
    assert _ids(types.list(fast.admin, is_public=None)) == {default, public.id, private.id, other.id}
    # anyone else: always true, whatever they ask
    for ask in (True, False, None):
        assert _ids(types.list(fast.who, is_public=ask)) == {default, public.id, private.id}
        assert _ids(types.list(P2, is_public=ask)) == {default, public.id}


def test_update_changes_name_description_and_visibility(fast):
    types = fast.svc.types
    t = types.create(fast.admin, "before", "old words")
    u = types.update(fast.admin, t.id, name="after")
    assert (u.name, u.description, u.is_public) == ("after", "old words", True)
    u = types.update(fast.admin, t.id, description="")
    assert (u.name, u.description) == ("after", "")
    u = types.update(fast.admin, t.id, is_public=False)
    assert u.is_public is False
    assert t.id not in _ids(types.list(fast.who)), "made private: gone for users without a grant"
    assert types.get(t.id) == u
    assert types.find("after").id == t.id and types.repo.by_name("before") is None


def test_update_refuses_what_cinder_refuses(fast):
    types = fast.svc.types
    t = types.create(fast.admin, "one")
    types.create(fast.admin, "two")
    with pytest.raises(BadRequest, match="Specify volume type name, description, is_public"):
        types.update(fast.admin, t.id)
    with pytest.raises(BadRequest, match="can not be empty"):
        types.update(fast.admin, t.id, name="   ")
    with pytest.raises(Conflict, match="two already exists"):
        types.update(fast.admin, t.id, name="two")
    with pytest.raises(NotFound):
        types.update(fast.admin, "no-such-type", name="three")
    assert types.update(fast.admin, t.id, name="one").name == "one", "its own name is not taken"


def test_the_default_type_keeps_its_name_and_stays_public(fast):
    types = fast.svc.types
    default = types.find(DEFAULT_TYPE)
    with pytest.raises(BadRequest, match="cannot be renamed"):
        types.update(fast.admin, default.id, name="renamed")
    with pytest.raises(BadRequest, match="cannot be made private"):
        types.update(fast.admin, default.id, is_public=False)
    assert types.update(fast.admin, default.id, description="ours").description == "ours"
    assert fast.svc.volumes.create(fast.who, "p1", 1).volume_type_id == default.id


def test_the_type_access_migration_upgrades_and_downgrades_on_sqlite(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        cfg = alembic_config(engine)
        command.upgrade(cfg, "0009")
        assert "volume_type_access" not in inspect(engine).get_table_names()
        command.upgrade(cfg, "0010")
        assert current_revision(engine) == "0010"
        pk = inspect(engine).get_pk_constraint("volume_type_access")["constrained_columns"]
        assert pk == ["volume_type_id", "project_id"]
        assert not [d for d in schema_drift(engine) if "volume_type_access" in repr(d)]
        command.downgrade(cfg, "0009")
        assert "volume_type_access" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _race(n, call):
    """Run ``call(i)`` in ``n`` threads at once; what each returned or raised."""
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        try:
            return call(i)
        except Exception as exc:  # noqa: BLE001 (the outcome is the point)
            return exc

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_concurrent_grants_of_one_project_make_one_grant_and_conflicts(fast, private):
    outcomes = _race(4, lambda i: fast.svc.types.add_access(fast.admin, private.id, "p1"))
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None), outcomes
    assert fast.svc.types.access_list(fast.admin, private.id) == ["p1"]


def test_concurrent_renames_to_one_name_leave_one_type_of_it(fast):
    types = [fast.svc.types.create(fast.admin, f"t{i}") for i in range(4)]
    outcomes = _race(4, lambda i: fast.svc.types.update(fast.admin, types[i].id, name="wanted"))
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, Exception)), outcomes
    assert sum(t.name == "wanted" for t in fast.svc.types.list()) == 1
