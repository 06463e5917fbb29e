"""On-demand flatten (``os-flatten`` and ``volclone volume flatten``) and its errors."""

from __future__ import annotations

from conftest import Env, run_cli
from flows.disk import digest, expect, write


def _parent(env: Env, volume_id: str) -> str | None:
    [(parent,)] = env.server.db_rows("SELECT parent_id FROM layers WHERE volume_id = ?", volume_id)
    return parent  # type: ignore[no-any-return]


def test_flatten_makes_a_clone_independent_and_folds_the_source_back(env: Env) -> None:
    src = env.user.create_volume(1, "flat-src")["id"]
    write(env.server.active_file(src), 0x21, 0, "8M")
    clone = env.user.wait(env.user.clone([src]))["details"]["results"][src]
    assert _parent(env, clone) is not None and _parent(env, src) is not None
    write(env.server.active_file(src), 0x22, 0, "64k")
    before = digest(env.server.active_file(clone))

    r = env.user.request("POST", f"/volumes/{clone}/action", json={"os-flatten": {}})
    assert r.status_code == 202, r.text
    assert _parent(env, clone) is None, "the clone is one layer now"
    assert _parent(env, src) is None, "nothing else used the frozen layer: the overlay folded back"
    assert digest(env.server.active_file(clone)) == before
    expect(env.server.active_file(clone), (0x21, 0, "8M"))
    expect(env.server.active_file(src), (0x22, 0, "64k"), (0x21, "64k", 8 * 1024 * 1024 - 65536))
    # flattening a volume that is one layer already is harmless
    assert env.user.request("POST", f"/volumes/{clone}/action", json={"os-flatten": {}}).status_code == 202


def test_cli_flatten(env: Env) -> None:
    src = env.user.create_volume(1, "flat-cli")["id"]
    clone = env.user.wait(env.user.clone([src]))["details"]["results"][src]
    out = run_cli(env.server.data_dir, "volume", "flatten", clone, "--url", env.server.url,
                  "--token", env.user_token, "--project", "p1")
    assert clone in out.stdout and _parent(env, clone) is None


def test_flatten_errors_are_faults_and_change_nothing(env: Env) -> None:
    vol = env.user.create_volume(1, "flat-err")["id"]
    r = env.user.request("POST", "/volumes/no-such-volume/action", json={"os-flatten": {}})
    assert r.status_code == 404 and "no-such-volume" in r.json()["itemNotFound"]["message"]
    r = env.user.request("POST", f"/volumes/{vol}/action", json={"os-flatten": {"deep": True}})
    assert r.status_code == 400 and r.json()["badRequest"]["message"]
    r = env.user.request("POST", f"/volumes/{vol}/action", json={"os-flatten": None})
    assert r.status_code == 400
    anonymous = env.server.client(None, "p1")
    assert anonymous.request("POST", f"/volumes/{vol}/action", json={"os-flatten": {}}).status_code == 401
