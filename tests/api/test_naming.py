"""Clone names, exactly as the spec's tables give them, and the configurable prefix."""

from __future__ import annotations

import pytest

from conftest import run_cli

from .support import assert_fault, clone_body, creates_nothing, task_id_of, unique


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


def test_single_with_display_name(env, made):
    [src] = sources(env, made, unique("srcvol1"))
    clones = clone(env.user, [src], **{"display-name": "demo"})
    cleanup(made, clones)
    assert clones[src]["name"] == "clone-demo"


def test_single_without_display_name_takes_the_source_name(env, made):
    name = unique("srcvol1")
    [src] = sources(env, made, name)
    clones = clone(env.user, [src])
    cleanup(made, clones)
    assert clones[src]["name"] == f"clone-{name}"


def test_single_unnamed_source_without_display_name(env, made):
    [src] = sources(env, made, None)
    clones = clone(env.user, [src])
    cleanup(made, clones)
    assert clones[src]["name"] == f"volume-{clones[src]['id']}"


def test_several_with_display_name_are_numbered_in_request_order(env, made):
    a, b, c = sources(env, made, unique("a"), unique("b"), unique("c"))
    order = [c, a, b]
    clones = clone(env.user, order, **{"display-name": "demo"})
    cleanup(made, clones)
    assert [clones[src]["name"] for src in order] == ["clone-demo-1", "clone-demo-2", "clone-demo-3"]


def test_several_without_display_name_are_named_after_their_ids(env, made):
    ids = sources(env, made, unique("a"), unique("b"), unique("c"))
    clones = clone(env.user, ids)
    cleanup(made, clones)
    assert [c["name"] for c in clones.values()] == [f"volume-{c['id']}" for c in clones.values()]


def test_description_on_a_single_clone(env, made):
    [src] = sources(env, made, unique())
    clones = clone(env.user, [src], description="before the upgrade")
    cleanup(made, clones)
    assert clones[src]["description"] == "before the upgrade"


def test_description_on_every_clone_of_several(env, made):
    ids = sources(env, made, unique(), unique())
    clones = clone(env.user, ids, **{"display-name": "d", "description": "before the upgrade"})
    cleanup(made, clones)
    assert [c["description"] for c in clones.values()] == ["before the upgrade"] * 2


def test_no_description_given(env, made):
    [src] = sources(env, made, unique())
    env.user.ok("PUT", f"/volumes/{src}", json={"volume": {"description": "the source's"}})
    clones = clone(env.user, [src])
    cleanup(made, clones)
    assert clones[src]["description"] is None


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


@pytest.mark.parametrize("count", [1, 2])
def test_a_display_name_too_long_for_the_prefix_is_refused_or_fits(env, made, count):
    ids = sources(env, made, *[unique() for _ in range(count)])
    r = env.user.request("POST", "/clone-volumes", json=clone_body(ids, **{"display-name": "n" * 255}))
    if r.status_code != 200:
        with creates_nothing(env.server):
            assert_fault(r, 400, "display-name")
        return
    p = env.user.wait(task_id_of(r))
    made += list(p["details"]["results"].values())
    names = [env.user.ok("GET", f"/volumes/{cid}")["volume"]["name"] for cid in p["details"]["results"].values()]
    assert all(len(n) <= 255 for n in names), [len(n) for n in names]


def test_a_source_name_too_long_for_the_prefix_is_refused_or_fits(env, made):
    [src] = sources(env, made, "s" * 255)
    r = env.user.request("POST", "/clone-volumes", json=clone_body([src]))
    if r.status_code != 200:
        assert_fault(r, 400)
        return
    p = env.user.wait(task_id_of(r))
    made += list(p["details"]["results"].values())
    assert len(env.user.ok("GET", f"/volumes/{p['details']['results'][src]}")["volume"]["name"]) <= 255
