"""Clone names through the whole clone use case, exactly as the spec's tables give them
(Table 5: one volume; Table 6: several), and the configurable prefix. tests/unit/test_naming.py
proves ``naming.clone_names`` alone; this proves the service names its clones with it."""

from __future__ import annotations

import pytest

from volclone import bootstrap
from volclone.domain import Volume
from volclone.errors import BadRequest

from .conftest import Fast


def clone(fast: Fast, ids: list[str], **fields: str | None) -> dict[str, Volume]:
    """Clone and wait; returns {source id: clone volume} in request order."""
    p = fast.wait(fast.clone(ids, **fields))
    assert p.flow_state.value == "SUCCESS", p
    assert list(p.results) == ids
    return {src: fast.get(cid) for src, cid in p.results.items()}


def test_single_with_display_name(fast: Fast) -> None:
    src = fast.volume(1, "srcvol1").id
    assert clone(fast, [src], display_name="demo")[src].name == "clone-demo"


def test_single_without_display_name_takes_the_source_name(fast: Fast) -> None:
    src = fast.volume(1, "srcvol1").id
    assert clone(fast, [src])[src].name == "clone-srcvol1"


@pytest.mark.parametrize("display_name", [None, ""])
def test_single_unnamed_source_without_display_name(fast: Fast, display_name: str | None) -> None:
    src = fast.volume(1, None).id
    c = clone(fast, [src], display_name=display_name)[src]
    assert c.name == f"volume-{c.id}"


def test_several_with_display_name_are_numbered_in_request_order(fast: Fast) -> None:
    a, b, c = (fast.volume(1, n).id for n in "abc")
    order = [c, a, b]
    clones = clone(fast, order, display_name="demo")
    assert [clones[s].name for s in order] == ["clone-demo-1", "clone-demo-2", "clone-demo-3"]


def test_several_without_display_name_are_named_after_their_ids(fast: Fast) -> None:
    ids = [fast.volume(1, n).id for n in "abc"]
    clones = clone(fast, ids)
    assert [c.name for c in clones.values()] == [f"volume-{c.id}" for c in clones.values()]


def test_description_on_a_single_clone(fast: Fast) -> None:
    src = fast.volume(1, "d").id
    assert clone(fast, [src], description="before the upgrade")[src].description == "before the upgrade"


def test_description_on_every_clone_of_several(fast: Fast) -> None:
    ids = [fast.volume(1).id, fast.volume(1).id]
    clones = clone(fast, ids, display_name="d", description="before the upgrade")
    assert [c.description for c in clones.values()] == ["before the upgrade"] * 2


def test_no_description_given_is_none_not_the_sources(fast: Fast) -> None:
    src = fast.volume(1, "s", description="the source's").id
    assert clone(fast, [src])[src].description is None


def test_the_prefix_changes_without_a_restart(fast: Fast) -> None:
    """Set by another process on the same database (as `volclone config set` does)."""
    admin = bootstrap.build(fast.settings, with_backends=False)
    try:
        admin.clones.set_prefix("bk_")
    finally:
        admin.stop()
    assert fast.svc.clones.prefix() == "bk_"
    a, b = fast.volume(1, "srcvol1").id, fast.volume(1, "srcvol2").id
    assert clone(fast, [a], display_name="demo")[a].name == "bk_demo"
    assert clone(fast, [a])[a].name == "bk_srcvol1"
    assert [c.name for c in clone(fast, [b, a], display_name="demo").values()] == ["bk_demo-1", "bk_demo-2"]
    several = clone(fast, [a, b])
    assert [c.name for c in several.values()] == [f"volume-{c.id}" for c in several.values()]


# -- names too long for the prefix ----------------------------------------------------
@pytest.mark.parametrize(("count", "length"), [(1, 249), (2, 247)])
def test_a_display_name_that_just_fits_with_the_prefix(fast: Fast, count: int, length: int) -> None:
    ids = [fast.volume(1).id for _ in range(count)]
    names = [c.name or "" for c in clone(fast, ids, display_name="n" * length).values()]
    assert [len(n) for n in names] == [255] * count  # "clone-" + name (+ "-1")


@pytest.mark.parametrize(("count", "length"), [(1, 250), (2, 248), (1, 255)])
def test_a_display_name_too_long_with_the_prefix_is_400(fast: Fast, count: int, length: int) -> None:
    ids = [fast.volume(1).id for _ in range(count)]
    with fast.creates_nothing(), pytest.raises(BadRequest, match="display-name"):
        fast.clone(ids, display_name="n" * length)


def test_a_source_name_too_long_with_the_prefix_is_400(fast: Fast) -> None:
    src = fast.volume(1, "s" * 255).id
    with fast.creates_nothing(), pytest.raises(BadRequest, match="source volume's name"):
        fast.clone([src])
    # a display-name that fits is the way out
    assert clone(fast, [src], display_name="short")[src].name == "clone-short"
