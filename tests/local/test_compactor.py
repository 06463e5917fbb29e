"""The background compactor (flatten past ``max_chain_depth``) never fails silently: a flatten
that fails is logged with its error, one stopped by a service stop is logged as stopped, and
the volume stays as it was. Real daemon and files; the flatten's failure is injected."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from volclone.backends.local.driver import LocalDriver
from volclone.backends.local.qsd import JobCancelled
from volclone.errors import BackendError

LOGGER = "volclone.backends.local.driver"


@pytest.fixture
def driver(make_driver: Callable[..., LocalDriver]) -> LocalDriver:
    return make_driver(max_chain_depth=1)


def deepen(driver: LocalDriver, volume_id: str) -> None:
    """Two snapshots and a clone of each: the source's chain grows past the bound of 1."""
    for i in range(2):
        snap = driver.create_group_snapshot(f"s{i}", [volume_id])
        driver.clone_from_group_snapshot(snap, {volume_id: f"c{i}"})
        driver.delete_group_snapshot(f"s{i}")


def compact_now(driver: LocalDriver) -> None:
    """Run the compactor's queue to its end (it has one worker: a no-op job queued after waits)."""
    driver._compactor.submit(lambda: None).result(timeout=120)


@pytest.mark.parametrize(("error", "heard"), [
    (BackendError("the daemon said no"), "flattening volume v failed; it stays as it is"),
    (RuntimeError("a bug"), "flattening volume v failed; it stays as it is"),
    (JobCancelled("block-stream cancelled"), "flattening volume v stopped: the service is stopping"),
])
def test_a_failed_background_flatten_is_logged(driver: LocalDriver, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture, error: Exception,
                                               heard: str) -> None:
    driver.create_volume("v", 1)
    calls: list[str] = []

    def failing_flatten(volume_id: str) -> bool:
        calls.append(volume_id)
        raise error

    monkeypatch.setattr(driver, "flatten", failing_flatten)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        deepen(driver, "v")
        compact_now(driver)
    assert "v" in calls, "the compactor ran"
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert heard in messages, messages
    if not isinstance(error, JobCancelled):
        records = [r for r in caplog.records if r.getMessage() == heard]
        assert all(r.levelno == logging.ERROR and r.exc_info is not None for r in records), "logged with its error"
    assert driver.depth("v") > 1, "the volume stays as it was"
