# ruff: noqa: F811 (the ``http`` fixture, imported from test_snapshots, is the tests' parameter)
"""``os-update_snapshot_status`` (Cinder's snapshot action a backend reports with): the status
moves only along Cinder's transitions (creating -> creating/available/error, deleting ->
deleting/error_deleting), the progress is an integer percentage and is shown as
``os-extended-snapshot-attributes:progress``; anything else is a 400 that changes nothing;
a project member may, a reader or another project may not. Migration 0023 adds the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from volclone.domain import SnapshotStatus
from volclone.service.snapshots import UPDATABLE

from .migrations import check_added_column
from .test_snapshots import SnapshotHttp, http  # noqa: F401  (the fixture)
from .test_volume_actions import fault

ALL = [s.value for s in SnapshotStatus]


def _snapshot_in(http: SnapshotHttp, status: str) -> str:
    sid: str = http.snap(http.fast.volume(1).id)["id"]
    http.ok("POST", f"/snapshots/{sid}/action", {"os-reset_status": {"status": status}}, status=202, token=http.admin)
    return sid


def _update(http: SnapshotHttp, sid: str, token: str | None = None, **fields: Any) -> Any:
    return http.call("POST", f"/snapshots/{sid}/action", {"os-update_snapshot_status": fields}, token=token)


def _shown(http: SnapshotHttp, sid: str) -> tuple[str, str]:
    s = http.ok("GET", f"/snapshots/{sid}", token=http.admin)["snapshot"]
    return s["status"], s["os-extended-snapshot-attributes:progress"]


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("wanted", ALL)
def test_only_cinders_transitions_are_allowed(http: SnapshotHttp, current: str, wanted: str) -> None:
    sid = _snapshot_in(http, current)
    before = _shown(http, sid)
    r = _update(http, sid, status=wanted)
    allowed = wanted in {s.value for s in UPDATABLE.get(SnapshotStatus(current), frozenset())}
    if allowed:
        assert r.status_code == 202, r.text
        assert _shown(http, sid)[0] == wanted
    else:
        fault(r, 400, "badRequest", "not allowed")
        assert _shown(http, sid) == before


def test_the_tables_are_cinders() -> None:
    assert {k.value: sorted(v.value for v in vs) for k, vs in UPDATABLE.items()} == {
        "creating": ["available", "creating", "error"], "deleting": ["deleting", "error_deleting"]}


def test_progress_is_stored_and_shown(http: SnapshotHttp) -> None:
    sid = _snapshot_in(http, "creating")
    assert _shown(http, sid) == ("creating", "0%")  # none reported yet: derived from the status
    assert _update(http, sid, status="creating", progress="40%").status_code == 202
    assert _shown(http, sid) == ("creating", "40%")
    assert _update(http, sid, status="error", progress="80%").status_code == 202  # Tempest's own step
    assert _shown(http, sid) == ("error", "80%")
    listed = http.ok("GET", "/snapshots/detail", token=http.admin)["snapshots"]
    assert [s["os-extended-snapshot-attributes:progress"] for s in listed if s["id"] == sid] == ["80%"]


def test_no_progress_keeps_the_last_one_and_an_empty_one_is_none(http: SnapshotHttp) -> None:
    sid = _snapshot_in(http, "creating")
    assert _update(http, sid, status="creating", progress="30%").status_code == 202
    assert _update(http, sid, status="creating").status_code == 202
    assert _update(http, sid, status="creating", progress="").status_code == 202
    assert _shown(http, sid) == ("creating", "30%")


@pytest.mark.parametrize("progress", ["80", "101%", "-1%", "x%", "%", "8 0%", "80%%", "1e2%"])
def test_a_bad_progress_is_a_400_and_changes_nothing(http: SnapshotHttp, progress: str) -> None:
    sid = _snapshot_in(http, "creating")
    fault(_update(http, sid, status="available", progress=progress), 400, "badRequest", "integer percentage")
    assert _shown(http, sid) == ("creating", "0%")


@pytest.mark.parametrize("body", [{}, {"progress": "10%"}, {"status": 1}, {"status": "error", "extra": 1},
                                  {"status": "error", "progress": 80}])
def test_a_bad_body_is_a_400(http: SnapshotHttp, body: dict[str, Any]) -> None:
    sid = _snapshot_in(http, "creating")
    fault(_update(http, sid, **body), 400, "badRequest")
    assert _shown(http, sid) == ("creating", "0%")


def test_a_member_may_a_reader_and_another_project_may_not(http: SnapshotHttp) -> None:
    sid = _snapshot_in(http, "creating")
    fault(_update(http, sid, token=http.reader, status="error"), 403, "forbidden",
          "snapshot_extension:snapshot_actions:update_snapshot_status")
    fault(_update(http, sid, token=http.other, status="error"), 403, "forbidden", "volume:get_snapshot")
    assert _shown(http, sid) == ("creating", "0%")
    assert _update(http, sid, status="available", progress="100%").status_code == 202
    assert _shown(http, sid) == ("available", "100%")
    fault(_update(http, "3f0e1c1e-0000-4000-8000-00000000dead", status="error"), 404, "itemNotFound")


def test_migration_0023_adds_progress_and_downgrades(tmp_path: Path) -> None:
    check_added_column(tmp_path, "0023", "0022", "snapshots", "progress")
