"""The leftover records of failed reverts, as several workers write them at once."""

from __future__ import annotations

import threading
from typing import Any

from volclone.db.database import Database, make_engine
from volclone.db.leftovers import Leftover, Leftovers


def test_the_same_leftover_recorded_at_once_by_many_writers_counts_every_failure(fast: Any) -> None:
    """Two RBD workers retrying one task's leftovers can fail on the same item together: a
    read-then-insert would fail one of them on the primary key (and lose its count)."""
    engine = make_engine(fast.db_url, 20)
    try:
        leftovers = Leftovers(Database(engine))
        item = Leftover.new("t1", "create_group_clone-t1", "delete_clone", "c1", "local", "busy")
        writers, errors = 12, []
        start = threading.Barrier(writers)

        def record() -> None:
            start.wait()
            try:
                leftovers.record(item)
            except Exception as exc:  # noqa: BLE001 (the assertion below names it)
                errors.append(exc)

        threads = [threading.Thread(target=record) for _ in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        [row] = leftovers.pending()
        assert row.attempts == writers
        leftovers.resolve(row.id)
        leftovers.record(item)  # failing again makes it pending again
        [again] = leftovers.pending()
        assert again.attempts == writers + 1
    finally:
        engine.dispose()
