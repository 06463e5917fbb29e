"""The spec's naming tables (Table 5: one volume; Table 6: several)."""

import pytest

from volclone.naming import clone_names


@pytest.mark.parametrize(
    ("prefix", "display", "sources", "ids", "expected"),
    [
        # Table 5, single volume: <prefix><display-name> | <prefix><source name>
        ("clone-", "demo", ["srcvol1"], ["c1"], ["clone-demo"]),
        ("clone-", None, ["srcvol1"], ["c1"], ["clone-srcvol1"]),
        # Table 6, several: <prefix><display-name>-<idx> | volume-<clone id>
        ("clone-", "demo", ["a", "b", "c"], ["c1", "c2", "c3"], ["clone-demo-1", "clone-demo-2", "clone-demo-3"]),
        ("clone-", None, ["a", "b", "c"], ["c1", "c2", "c3"], ["volume-c1", "volume-c2", "volume-c3"]),
        # a configured prefix is concatenated the same way
        ("bk_", "nightly", ["a", "b"], ["c1", "c2"], ["bk_nightly-1", "bk_nightly-2"]),
        ("bk_", None, ["data"], ["c1"], ["bk_data"]),
        # an unnamed single source: named after the clone, as in the multi-volume case
        ("clone-", None, [None], ["c1"], ["volume-c1"]),
        ("clone-", "", ["srcvol1"], ["c1"], ["clone-srcvol1"]),
    ],
)
def test_spec_tables(prefix, display, sources, ids, expected):
    assert clone_names(prefix, display, sources, ids) == expected
