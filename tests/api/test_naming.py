"""Clone names through a real server: the numbering of several clones, and the prefix set
with `volclone config set` while the server runs. Every row of the spec's naming tables
(single, several, unnamed sources, descriptions, names too long for the prefix) is proven
on the service itself in tests/unit/test_clone_naming.py, and naming.clone_names alone in
tests/unit/test_naming.py."""

from __future__ import annotations

import pytest

from conftest import run_cli

from .support import clone_body, task_id_of, unique


def clone(api, ids, **fields):
    """Clone and wait; returns {source id: clone volume} in request order."""
    p = api.wait(task_id_of(api.request("POST", "/clone-volumes", json=clone_body(ids, **fields))))
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    assert list(p["details"]["results"]) == ids
    return {src: api.ok("GET", f"/volumes/{cid}")["volume"] for src, cid in p["details"]["results"].items()}


@pytest.fixture
def made(env):
    """Volumes the test makes (sources and clones); deleted afterwards."""
    vols: list[str] = []
    yield vols
    for vid in vols:
        env.user.request("DELETE", f"/volumes/{vid}")


def sources(env, made, *names):
    vols = [env.user.create_volume(1, name) for name in names]
    made += [v["id"] for v in vols]
    return [v["id"] for v in vols]


def cleanup(made, clones):
    made += [c["id"] for c in clones.values()]


def test_several_with_display_name_are_numbered_in_request_order(env, made):
    a, b, c = sources(env, made, unique("a"), unique("b"), unique("c"))
    order = [c, a, b]
    clones = clone(env.user, order, **{"display-name": "demo"})
    cleanup(made, clones)
    assert [clones[src]["name"] for src in order] == ["clone-demo-1", "clone-demo-2", "clone-demo-3"]


def test_prefix_changes_without_a_restart(make_env):
    e = make_env()
    data = e.server.data_dir
    run_cli(data, "config", "set", "clone-name-prefix", "bk_")
    assert run_cli(data, "config", "get", "clone-name-prefix").stdout.strip() == "bk_"
    a = e.user.create_volume(1, "srcvol1")["id"]
    b = e.user.create_volume(1, "srcvol2")["id"]
    assert clone(e.user, [a], **{"display-name": "demo"})[a]["name"] == "bk_demo"
    assert clone(e.user, [a])[a]["name"] == "bk_srcvol1"
    assert [c["name"] for c in clone(e.user, [b, a], **{"display-name": "demo"}).values()] == \
        ["bk_demo-1", "bk_demo-2"]
    several = clone(e.user, [a, b])
    assert [c["name"] for c in several.values()] == [f"volume-{c['id']}" for c in several.values()]
