"""``volclone clone --dry-run``: the plan printed (a table, or JSON), nothing made, and the real
request's errors."""

from __future__ import annotations

from typing import Any

from conftest import Env

from .test_cli import Run, assert_error, cli_for, new_volume, ok_json, ok_text, table_row, unique


def made(env: Env) -> dict[str, Any]:
    return {t: env.server.db_rows(f"SELECT * FROM {t}") for t in ("volumes", "clone_tasks", "reservations")} | {
        "pool": env.server.pool_files()}


def test_clone_dry_run_prints_the_plan_and_makes_nothing(env: Env) -> None:
    cli: Run = cli_for(env)
    a, b = new_volume(cli, unique("a")), new_volume(cli, unique("b"))
    name = unique("plan")
    before = made(env)
    plan = ok_json(cli("clone", a["id"], b["id"], "--name", name, "--dry-run", "--json"))["plan"]
    assert [(c["source_id"], c["name"], c["bytes_to_copy"]) for c in plan["clones"]] == [
        (a["id"], f"clone-{name}-1", 0), (b["id"], f"clone-{name}-2", 0)]
    assert plan["consistency_method"] == "qmp-transaction" and plan["totals"]["volumes"] == 2
    method = plan["clones"][0]["method"]
    assert method in ("linked", "reflink")

    text = ok_text(cli("clone", a["id"], b["id"], "--name", name, "--dry-run"))
    assert "nothing was made" in text and "consistency: qmp-transaction" in text
    for source, suffix in ((a, 1), (b, 2)):
        row = table_row(text, source["id"])
        assert f"clone-{name}-{suffix}" in row and method in row and "__DEFAULT__" in row
    assert made(env) == before

    assert_error(cli("clone", a["id"], "no-such-volume", "--dry-run"), "Error (HTTP 404 itemNotFound):",
                 "no-such-volume")
    assert made(env) == before
