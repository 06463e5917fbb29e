"""python-cinderclient's quota commands against a real server, with admin_token auth.

``cinder quota-update`` sends ``{"quota_set": {"tenant_id": ..., "volumes": N}}`` (the server
ignores ``tenant_id`` as Cinder does); ``quota-show`` asks ``?usage=False``, ``quota-usage``
``?usage=True`` and prints In_use, Reserved, Limit and Allocated.
"""

from __future__ import annotations

import uuid

import pytest

from conftest import make_token

from .test_cli_clients import BIN, run, table


def cinder(env, token: str, *args: str, check: bool = True):
    return run([str(BIN / "cinder"), "--os-auth-type", "admin_token", "--os-endpoint", f"{env.server.url}/v3/p1",
                "--os_token", token, "--os-project-id", "p1", *args], check)


@pytest.fixture
def project(env):
    name = f"cq-{uuid.uuid4().hex[:10]}"
    yield name
    env.admin.request("DELETE", f"/os-quota-sets/{name}")


def test_cinder_quota_show_update_defaults_delete(env, project):
    shown = table(cinder(env, env.admin_token, "quota-show", project).stdout)
    # The test servers have no quotas unless a test sets them (tests/conftest.py).
    assert (shown["volumes"], shown["gigabytes"], shown["snapshots"]) == ("-1", "-1", "-1")
    updated = table(cinder(env, env.admin_token, "quota-update", "--volumes", "3", "--gigabytes", "-1",
                           project).stdout)
    assert (updated["volumes"], updated["gigabytes"], updated["snapshots"]) == ("3", "-1", "-1")
    assert table(cinder(env, env.admin_token, "quota-show", project).stdout)["volumes"] == "3"
    assert table(cinder(env, env.admin_token, "quota-defaults", project).stdout)["volumes"] == "-1"
    cinder(env, env.admin_token, "quota-delete", project)
    assert table(cinder(env, env.admin_token, "quota-show", project).stdout)["volumes"] == "-1"


def test_cinder_quota_usage(env, project):
    user = env.server.client(make_token(env.server.data_dir, project), project)
    env.admin.ok("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"volumes": 10}})
    user.create_volume(size=2)
    out = cinder(env, env.admin_token, "quota-usage", project).stdout
    rows = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip().strip("|").split("|")]
                                              for line in out.splitlines() if line.startswith("| "))}
    assert rows["volumes"] == ["1", "0", "10", "0"]  # In_use, Reserved, Limit, Allocated
    assert rows["gigabytes"] == ["2", "0", "-1", "0"]


def test_cinder_quota_update_by_a_project_token_is_refused(env, project):
    done = cinder(env, env.user_token, "quota-update", "--volumes", "99", "p1", check=False)
    assert done.returncode != 0 and "403" in done.stderr, done.stderr
    assert table(cinder(env, env.admin_token, "quota-show", "p1").stdout)["volumes"] == "-1"


def test_cinder_quota_update_sets_cinders_other_resources(env, project):
    """``--backups``, ``--backup-gigabytes``, ``--groups`` and ``--per-volume-gigabytes``: kept and
    shown (backups are not served; per_volume_gigabytes is enforced, tests/unit/test_quotas.py)."""
    updated = table(cinder(env, env.admin_token, "quota-update", "--backups", "4", "--backup-gigabytes", "40",
                           "--groups", "2", "--per-volume-gigabytes", "5", project).stdout)
    wanted = {"backups": "4", "backup_gigabytes": "40", "groups": "2", "per_volume_gigabytes": "5"}
    assert {k: updated[k] for k in wanted} == wanted
    shown = table(cinder(env, env.admin_token, "quota-show", project).stdout)
    assert {k: shown[k] for k in wanted} == wanted
    defaults = table(cinder(env, env.admin_token, "quota-defaults", project).stdout)
    assert (defaults["backups"], defaults["groups"], defaults["per_volume_gigabytes"]) == ("10", "10", "-1")
