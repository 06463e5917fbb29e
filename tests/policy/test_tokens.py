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
    tokens = Tokens(Database(engine))
    assert tokens.find("old-admin") == Principal("admin", True, ADMIN_ROLES)
    assert tokens.find("old-user") == Principal("p1", False, MEMBER_ROLES)
    reader = AuthService(tokens).create_token("p1", READER_ROLES)
    assert tokens.find(reader) == Principal("p1", False, READER_ROLES)
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
    assert tokens.find(admin) == Principal("admin", True, ADMIN_ROLES)
    assert tokens.find(member) == Principal("p1", False, MEMBER_ROLES)
    assert tokens.find(reader) == Principal("p1", False, READER_ROLES)
    engine.dispose()


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
