"""Local tokens carry roles (migration 0005): tokens made before keep what they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import text

from conftest import run_cli
from volclone.db.database import Database, alembic_config, make_engine
from volclone.db.repos import Tokens, hash_token
from volclone.domain import Principal
from volclone.service.auth import ADMIN_ROLES, MEMBER_ROLES, READER_ROLES, AuthService


def cli_token(data_dir: Path, project: str, *flags: str) -> str:
    """What ``volclone token create`` prints last: the token."""
    return run_cli(data_dir, "token", "create", "--project", project, *flags).stdout.strip().splitlines()[-1]


def scope(p: Principal | None) -> tuple[str, bool, frozenset[str]] | None:
    """A token's project, admin flag and roles (its user is tests/unit/test_user_ids.py's)."""
    return None if p is None else (p.project_id, p.is_admin, p.roles)


def test_migration_0005_gives_old_tokens_the_roles_they_had(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    cfg = alembic_config(engine)
    command.upgrade(cfg, "0004")
    with engine.begin() as c:
        for token, project, admin in (("old-admin", "admin", True), ("old-user", "p1", False)):
            c.execute(text("INSERT INTO tokens (token_hash, project_id, is_admin, created_at) "
                           "VALUES (:h, :p, :a, CURRENT_TIMESTAMP)"),
                      {"h": hash_token(token), "p": project, "a": admin})
    command.upgrade(cfg, "0005")
    command.upgrade(cfg, "head")  # the repository reads today's schema (0014's user_id too)
    tokens = Tokens(Database(engine))
    assert scope(tokens.find("old-admin")) == ("admin", True, ADMIN_ROLES)
    assert scope(tokens.find("old-user")) == ("p1", False, MEMBER_ROLES)
    reader = AuthService(tokens).create_token("p1", READER_ROLES)
    assert scope(tokens.find(reader)) == ("p1", False, READER_ROLES)
    # Down again: a reader token can't be told from a member token without its roles, so it goes.
    command.downgrade(cfg, "0004")
    with engine.begin() as c:
        left = {row[0] for row in c.execute(text("SELECT token_hash FROM tokens"))}
    assert left == {hash_token("old-admin"), hash_token("old-user")}
    engine.dispose()


def test_token_create_stores_the_personas_roles(tmp_path: Path) -> None:
    admin, member, reader = (cli_token(tmp_path, "admin", "--admin"), cli_token(tmp_path, "p1"),
                             cli_token(tmp_path, "p1", "--reader"))
    engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
    tokens = Tokens(Database(engine))
    assert scope(tokens.find(admin)) == ("admin", True, ADMIN_ROLES)
    assert scope(tokens.find(member)) == ("p1", False, MEMBER_ROLES)
    assert scope(tokens.find(reader)) == ("p1", False, READER_ROLES)
    engine.dispose()


def test_token_create_stands_for_the_user_named_or_a_new_one(tmp_path: Path) -> None:
    named, same = (cli_token(tmp_path, "p1", "--user-id", "ops-1") for _ in range(2))
    fresh = cli_token(tmp_path, "p1")
    engine = make_engine(f"sqlite:///{tmp_path / 'volclone.db'}")
    try:
        tokens = Tokens(Database(engine))
        users = [p.user_id if (p := tokens.find(t)) else None for t in (named, same, fresh)]
        assert users[:2] == ["ops-1", "ops-1"]
        assert users[2] is not None and len(users[2]) == 32 and users[2] != "ops-1"
    finally:
        engine.dispose()
    bad = run_cli(tmp_path, "token", "create", "--project", "p1", "--user-id", " ", check=False)
    assert bad.returncode == 2 and "--user-id" in bad.stderr, bad.stderr


def test_no_token_starts_with_a_dash(tmp_path: Path, monkeypatch: Any) -> None:
    """``cinder --os-token -abc...`` reads a token that starts with '-' as an option: none does."""
    import secrets

    made = iter(["-starts-with-a-dash", "-again", "fine-token"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(made))
    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        from volclone.db.database import migrate

        migrate(engine)
        assert AuthService(Tokens(Database(engine))).create_token("p1") == "fine-token"
    finally:
        engine.dispose()
