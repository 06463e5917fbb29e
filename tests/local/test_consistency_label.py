"""The local pool's label in get_progress's consistency report: a QMP transaction, and an honest
"none" when the test-only one-at-a-time switch is on."""

from __future__ import annotations

from collections.abc import Callable

from volclone.backends.local.driver import LocalDriver


def test_the_pool_says_how_it_takes_its_point_and_whether_it_is_one(make_driver: Callable[..., LocalDriver]) -> None:
    safe = make_driver()
    assert (safe.consistency_method, safe.crash_consistent) == ("qmp-transaction", True)
    safe.unsafe_snapshot_gap_ms = 5  # VOLCLONE_UNSAFE_TEST_SNAPSHOT_GAP_MS: one volume at a time
    assert safe.crash_consistent is False
