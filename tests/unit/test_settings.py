"""Settings read from the environment: the knobs the fast tests set directly (the real-server
tests set them as VOLCLONE_* variables of the server's process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from volclone.config import Settings


def test_the_environment_sets_the_clone_limits_and_failpoints() -> None:
    s = Settings.from_env({"VOLCLONE_DATA_DIR": "/srv/v", "VOLCLONE_MAX_CLONE_VOLUMES": "3",
                           "VOLCLONE_FLOW_WORKERS": "2",
                           "VOLCLONE_FAILPOINTS": "create_group_clone, set_clones_available,,"})
    assert (s.data_dir, s.max_clone_volumes, s.flow_workers) == (Path("/srv/v"), 3, 2)
    assert s.failpoints == ("create_group_clone", "set_clones_available")
    assert s.db_url == "sqlite:////srv/v/volclone.db"


def test_defaults() -> None:
    s = Settings.from_env({"VOLCLONE_DATA_DIR": "/srv/v"})
    assert (s.max_clone_volumes, s.flow_workers, s.failpoints) == (100, 4, ())


def test_the_job_board_poll_period_defaults_to_taskflows_and_is_bounded() -> None:
    assert Settings.from_env({}).jobboard_poll_s == 0.5
    assert Settings.from_env({"VOLCLONE_JOBBOARD_POLL_S": "0.1"}).jobboard_poll_s == 0.1
    for bad in ("0", "-1", "61"):
        with pytest.raises(ValueError, match="VOLCLONE_JOBBOARD_POLL_S"):
            Settings.from_env({"VOLCLONE_JOBBOARD_POLL_S": bad})


def test_the_event_stream_settings_are_read_bounded_and_reach_the_streams() -> None:
    from volclone.api.event_stream import StreamOptions

    s = Settings.from_env({"VOLCLONE_MAX_EVENT_STREAMS": "4", "VOLCLONE_EVENT_STREAM_POLL_S": "1",
                           "VOLCLONE_EVENT_STREAM_PING_S": "5"})
    assert StreamOptions.from_settings(s) == StreamOptions(max_streams=4, poll_s=1.0, ping_s=5.0,
                                                           progress_interval_s=1.0)
    assert StreamOptions.from_settings(Settings.from_env({})) == StreamOptions()
    for name, bad in (("VOLCLONE_MAX_EVENT_STREAMS", "-1"), ("VOLCLONE_EVENT_STREAM_POLL_S", "0"),
                      ("VOLCLONE_EVENT_STREAM_POLL_S", "61"), ("VOLCLONE_EVENT_STREAM_PING_S", "0")):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: bad})


def test_the_message_lifetime_defaults_to_cinders_message_ttl_and_must_be_positive() -> None:
    assert Settings.from_env({}).message_ttl_s == 2592000
    assert Settings.from_env({"VOLCLONE_MESSAGE_TTL": "60"}).message_ttl_s == 60
    for bad in ("0", "-5"):
        with pytest.raises(ValueError, match="VOLCLONE_MESSAGE_TTL"):
            Settings.from_env({"VOLCLONE_MESSAGE_TTL": bad})
