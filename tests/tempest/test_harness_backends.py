"""The harness's backends, without running Tempest: the flags it writes for one backend and for
two, and what it does when Ceph can't be brought up (says so loudly; multi_backend stays False)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from . import ceph_backend
from .harness import FEATURES_OFF, FEATURES_ON, Keystone, tempest_conf


def _conf(*backends: str) -> configparser.ConfigParser:
    text = tempest_conf(Keystone(Path("/nonexistent"), port=1), "3.0", "3.71", Path("/nonexistent/tempest.log"),
                        backends)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(text)
    return conf


def test_two_backends_switch_multi_backend_on_and_name_both() -> None:
    conf = _conf("local", "ceph")
    assert conf["volume-feature-enabled"]["multi_backend"] == "True"
    assert conf["volume"]["backend_names"] == "local,ceph"
    assert conf["volume"]["storage_protocol"] == "NBD"  # the first (local) backend's


def test_one_backend_keeps_multi_backend_off() -> None:
    conf = _conf("local")
    assert conf["volume-feature-enabled"]["multi_backend"] == "False"
    assert conf["volume"]["backend_names"] == "local"


def test_the_flag_lists_are_disjoint_and_leave_multi_backend_to_the_backends() -> None:
    assert not set(FEATURES_ON) & set(FEATURES_OFF)
    assert "multi_backend" not in (*FEATURES_ON, *FEATURES_OFF)


def test_without_ceph_the_harness_says_so_and_brings_up_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ceph_backend, "BINARIES", ("volclone-no-such-ceph-mon",))
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(ceph_backend, "ceph_dev", lambda *args, **kw: calls.append(args))
    with ceph_backend.ceph_backend(tmp_path) as ceph:
        assert ceph is None
    err = capsys.readouterr().err
    assert "Ceph is not installed (missing volclone-no-such-ceph-mon" in err
    assert "multi_backend stays False" in err and "SKIPPED" in err
    assert calls == []


def test_a_failed_ceph_up_is_said_and_the_cluster_is_stopped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    calls: list[tuple[str, ...]] = []

    def fake(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 1 if args[0] == "up" else 0, "", "mon did not start")

    monkeypatch.setattr(ceph_backend, "missing", lambda: [])
    monkeypatch.setattr(ceph_backend, "ceph_dev", fake)
    with ceph_backend.ceph_backend(tmp_path) as ceph:
        assert ceph is None
    assert "ceph-dev up" in capsys.readouterr().err
    assert [c[0] for c in calls] == ["up", "down"]


def test_the_cluster_is_stopped_when_the_run_is_interrupted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import subprocess

    calls: list[str] = []

    def fake(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        calls.append(args[0])
        return subprocess.CompletedProcess(args, 0, f"started\nexport CEPH_CONF={tmp_path}/ceph.conf\n", "")

    monkeypatch.setattr(ceph_backend, "missing", lambda: [])
    monkeypatch.setattr(ceph_backend, "ceph_dev", fake)
    with pytest.raises(KeyboardInterrupt), ceph_backend.ceph_backend(tmp_path) as ceph:
        assert ceph is not None and ceph.conf == f"{tmp_path}/ceph.conf" and ceph.pool == "rbd"
        raise KeyboardInterrupt("signal 15")  # the harness's SIGTERM handler raises this
    assert calls == ["up", "down"]
