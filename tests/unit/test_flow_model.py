"""The flow's data and seams: the step table, the clone spec's JSON (old shape too), the
failpoints, tenant-safe messages and the periodic retrier's prompt stop."""

import threading

import pytest

from volclone.errors import InjectedFailure
from volclone.flows.clone_volumes import TASKS, Failpoints
from volclone.flows.messages import public_error, tenant_message
from volclone.flows.model import CloneSpec, Step, Undo
from volclone.service.periodic import Periodic


def test_one_table_names_every_step_in_flow_order():
    assert list(TASKS) == list(Step)
    assert Step.DELETE_SRC_GROUP.task_name("84a0bb4d-4644") == "delete_group-src_group-84a0bb4d"
    assert Step.of("delete_group-src_group-84a0bb4d") is Step.DELETE_SRC_GROUP
    assert Step.of("delete_group_snapshot-84a0bb4d") is Step.DELETE_GROUP_SNAPSHOT
    assert Step.of("_TaskFlow_INJECTOR") is None


def test_a_clone_spec_round_trips_through_json_and_reads_the_old_shape():
    spec = CloneSpec(source="s", id="c", name="clone-x", volume_type_id="t", backend="ceph", mode="copy",
                     description="d")
    assert CloneSpec.from_json(spec.to_json(), "local") == spec
    # flows persisted before the record: no backend key (or None) means the sources' backend
    old = {"source": "s", "id": "c", "name": "n", "description": None, "volume_type_id": "t", "mode": "full"}
    assert CloneSpec.from_json(old, "local") == CloneSpec("s", "c", "n", "t", "local", "full", None)
    assert CloneSpec.from_json({**old, "backend": None, "mode": None}, "local").mode == "linked"


def test_revert_failpoints_fail_the_first_n_times():
    fp = Failpoints(["create_group_clone", "revert:delete_group_snapshot:2", "revert:delete_clone"])
    with pytest.raises(InjectedFailure, match="create_group_clone-1"):
        fp.task("create_group_clone-1")
    fp.task("set_clones_available-1")
    fp.task("revert:delete_clone")  # a revert entry is not a task prefix
    for _ in range(2):
        with pytest.raises(InjectedFailure, match="delete_group_snapshot of snap-1"):
            fp.undo(Undo.DELETE_GROUP_SNAPSHOT, "snap-1")
    fp.undo(Undo.DELETE_GROUP_SNAPSHOT, "snap-1")
    with pytest.raises(InjectedFailure):
        fp.undo(Undo.DELETE_CLONE, "c")
    fp.undo(Undo.DELETE_CLONE, "c")
    fp.undo(Undo.DELETE_GROUP, "g")
    with pytest.raises(ValueError):
        Failpoints(["revert:no_such_undo"])


@pytest.mark.parametrize(("text", "clean"), [
    ("Could not open '/tmp/pytest-1/volclone0/pool/ab.qcow2': Permission denied",
     "Could not open 'ab.qcow2': Permission denied"),
    ("failed: /a/b/c and /d/e/", "failed: c and e"),
    ("nbd://127.0.0.1:10809/vol-1 stays, so do 1/2 and a/b", "nbd://127.0.0.1:10809/vol-1 stays, so do 1/2 and a/b"),
    ("boom\nTraceback (most recent call last):\n  File \"/x.py\", line 1, in <module>\nValueError: /etc/y",
     "boom"),
    ("", "an internal error (details are in the server log)"),
])
def test_tenant_messages_hold_no_absolute_path_and_no_traceback(text, clean):
    assert tenant_message(text) == clean


def test_public_errors_hide_what_is_not_ours():
    assert public_error(InjectedFailure("failpoint hit in x")) == "failpoint hit in x"
    assert public_error(KeyError("principal")) == "an internal error (KeyError; details are in the server log)"
    assert len(tenant_message("x" * 10_000)) == 500


def test_the_periodic_retrier_runs_and_stops_at_once_however_long_its_interval():
    ran = threading.Event()
    fast = Periodic("t-fast", ran.set, 0.01)
    fast.start()
    assert ran.wait(30)
    fast.stop()
    slow = Periodic("t-slow", ran.set, 3600)
    slow.start()
    thread = slow._thread
    slow.stop(timeout=30)
    assert thread is not None and not thread.is_alive()
