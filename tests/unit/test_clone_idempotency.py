"""Idempotency-Key on clone-volumes: a retry with the same key and body gets the same task and
makes nothing; another body is a 409; keys are per project and live a day."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest

from volclone.domain import CloneRequest, Principal
from volclone.errors import Conflict, NotFound

KEY = "retry-7f3a"


def start(fast: Any, ids: list[str], key: str | None = KEY, project: str = "p1", **fields: Any) -> str:
    return fast.svc.clones.start(Principal(project, roles=fast.who.roles), CloneRequest(project, ids, **fields),
                                 idempotency_key=key)


def test_a_retry_with_the_same_key_and_body_gets_the_same_task_and_makes_nothing(fast: Any) -> None:
    ids = [fast.volume().id, fast.volume().id]
    first = start(fast, ids, display_name="set")
    fast.wait(first)
    with fast.creates_nothing():
        assert start(fast, ids, display_name="set") == first


def test_the_same_key_with_another_body_is_a_409_that_makes_nothing(fast: Any) -> None:
    ids = [fast.volume().id, fast.volume().id]
    fast.wait(start(fast, ids))
    with fast.creates_nothing(), pytest.raises(Conflict, match="another request body"):
        start(fast, ids, display_name="other")
    with fast.creates_nothing(), pytest.raises(Conflict):
        start(fast, ids[:1])


def test_without_a_key_every_request_is_new(fast: Any) -> None:
    ids = [fast.volume().id]
    assert start(fast, ids, key=None) != start(fast, ids, key=None)


def test_keys_are_per_project(fast: Any) -> None:
    mine, theirs = fast.volume().id, fast.volume(project="p2").id
    a, b = start(fast, [mine]), start(fast, [theirs], project="p2")
    assert a != b
    fast.wait(a)


def test_a_request_that_failed_does_not_keep_its_key(fast: Any) -> None:
    with pytest.raises(NotFound):
        start(fast, ["00000000-0000-0000-0000-000000000000"])
    ids = [fast.volume().id]
    task = start(fast, ids)  # another body, but the first request made nothing: no 409
    assert fast.wait(task).flow_state.value == "SUCCESS"


def test_an_expired_key_starts_a_new_task(fast: Any) -> None:
    ids = [fast.volume().id]
    first = start(fast, ids)
    fast.wait(first)
    fast.svc.clones.keys.ttl = dt.timedelta(seconds=0)
    second = start(fast, ids)
    assert second != first
    fast.wait(second)


def test_twenty_requests_with_one_key_at_once_make_one_task(fast: Any) -> None:
    ids = [fast.volume().id, fast.volume().id]
    gate = threading.Barrier(20)
    got: list[str] = []
    errors: list[BaseException] = []

    def retry() -> None:
        gate.wait()
        try:
            got.append(start(fast, ids))
        except BaseException as exc:  # noqa: BLE001 (the assertion names it)
            errors.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(got) == 20 and len(set(got)) == 1
    fast.wait(got[0])
    assert len(fast.db_rows("SELECT id FROM clone_tasks")) == 1
    assert len(fast.volume_ids()) == 4  # the two sources and ONE set of clones
