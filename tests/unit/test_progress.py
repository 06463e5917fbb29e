"""get_progress is derived from TaskFlow's persisted atom states (real TaskFlow models, no fakes)."""

from taskflow import states
from taskflow.persistence import models
from taskflow.types import failure

from volclone.domain import TaskState
from volclone.errors import BackendError
from volclone.flows.model import Step
from volclone.flows.progress import read_progress

STEPS = [s.task_name("t") for s in (Step.CREATE_SRC_GROUP, Step.CREATE_GROUP_SNAPSHOT, Step.CREATE_GROUP_CLONE,
                                    Step.SET_CLONES_AVAILABLE)]


def a_failure(exc):
    try:
        raise exc
    except Exception:
        return failure.Failure()


def detail(flow_state, atom_states, progress_of_running=0.0, fail=None, error=None):
    fd = models.FlowDetail("cloneFlow", uuid="f")
    fd.state = flow_state
    for name, state in zip(STEPS, atom_states, strict=False):
        ad = models.TaskDetail(name, uuid=name)
        ad.state = state
        if state == states.RUNNING:
            ad.meta = {"progress": progress_of_running}
        if fail and name == fail:
            ad.failure = a_failure(error or BackendError("disk on fire"))
        fd.add(ad)
    return fd


def test_running_progress_counts_steps_and_the_running_fraction():
    p = read_progress("t", detail(states.RUNNING, [states.SUCCESS, states.RUNNING, states.PENDING, states.PENDING],
                                  progress_of_running=0.5), {})
    assert p.progress == 18  # (1 + 0.5) / 8: create_group_clone weighs 5 (it may copy data)
    assert p.completed_tasks == {"create_src_vol_group-t": "SUCCESS"}
    assert p.pending_tasks["create_group_snapshot-t"] == "RUNNING"
    assert p.results == {}


def test_revert_never_lowers_progress_and_ends_at_100():
    seq = [
        (states.RUNNING, [states.SUCCESS, states.SUCCESS, states.RUNNING, states.PENDING]),
        (states.REVERTING, [states.SUCCESS, states.SUCCESS, states.FAILURE, states.PENDING]),
        (states.REVERTING, [states.SUCCESS, states.REVERTING, states.REVERTED, states.PENDING]),
        (states.REVERTING, [states.REVERTED, states.REVERTED, states.REVERTED, states.PENDING]),
    ]
    seen = [read_progress("t", detail(f, a), {}).progress for f, a in seq]
    assert seen == sorted(seen) and seen[-1] < 100
    final = read_progress("t", detail(states.REVERTED, seq[-1][1], fail="create_group_clone-t"), {})
    assert final.progress == 100
    assert final.flow_state is TaskState.REVERTED
    assert final.results == {"failure": "disk on fire"}


def test_success_maps_sources_to_clones():
    p = read_progress("t", detail(states.SUCCESS, [states.SUCCESS] * 4), {"src": "clone"})
    assert (p.progress, p.flow_state, p.results, p.pending_tasks) == (100, TaskState.SUCCESS, {"src": "clone"}, {})


# -- a reverted flow lists only the steps that ran -------------------------------
def test_a_reverted_flow_leaves_out_the_steps_that_never_ran():
    ran = [states.REVERTED, states.REVERTED, states.REVERTED, states.PENDING]
    p = read_progress("t", detail(states.REVERTED, ran, fail=STEPS[2]), {})
    assert p.completed_tasks == {STEPS[0]: "REVERTED", STEPS[1]: "REVERTED", STEPS[2]: "REVERTED"}
    assert p.pending_tasks == {}
    # while it reverts, too: the step that will never run is not "pending"
    reverting = read_progress("t", detail(states.REVERTING, [states.SUCCESS, states.REVERTING, states.REVERTED,
                                                             states.PENDING], fail=STEPS[2]), {})
    assert STEPS[3] not in reverting.tasks and reverting.pending_tasks == {STEPS[1]: "REVERTING"}
    # a running flow still shows its future steps as PENDING
    running = read_progress("t", detail(states.RUNNING, [states.SUCCESS, states.RUNNING, states.PENDING,
                                                         states.PENDING]), {})
    assert running.pending_tasks == {STEPS[1]: "RUNNING", STEPS[2]: "PENDING", STEPS[3]: "PENDING"}


def test_a_failed_revert_ends_failure_with_every_message_and_the_failed_steps():
    from volclone.errors import RevertIncomplete

    fd = detail(states.FAILURE, [states.REVERT_FAILURE, states.REVERTED, states.REVERTED, states.PENDING],
                fail=STEPS[2], error=BackendError("copy failed"))
    fd.find(STEPS[0]).revert_failure = a_failure(RevertIncomplete("the revert could not undo everything: "
                                                                  "group snapshot snap-t was not deleted (x)"))
    p = read_progress("t", fd, {"src": "clone"}, revert_failed=frozenset({STEPS[1]}))
    assert p.flow_state is TaskState.FAILURE and p.progress == 100
    assert p.results == {"failure": "copy failed; the revert could not undo everything: "
                                    "group snapshot snap-t was not deleted (x)"}
    # the step whose undo failed is FAILURE; the first step only reported it and is REVERTED
    assert p.completed_tasks == {STEPS[0]: "REVERTED", STEPS[1]: "FAILURE", STEPS[2]: "REVERTED"}
    assert p.pending_tasks == {}


def test_failure_messages_hold_no_server_paths_nor_internals():
    path_error = BackendError("qemu-img: Could not open '/var/lib/volclone/pool/3f9e.qcow2': No such file\n"
                              "Traceback (most recent call last):\n  File \"/usr/lib/x.py\", line 3, in f\n")
    p = read_progress("t", detail(states.REVERTED, [states.REVERTED], fail=STEPS[0], error=path_error), {})
    assert p.results == {"failure": "qemu-img: Could not open '3f9e.qcow2': No such file"}
    sql = RuntimeError("(sqlite3.OperationalError) database is locked [SQL: UPDATE volumes SET ...]")
    p = read_progress("t", detail(states.REVERTED, [states.REVERTED], fail=STEPS[0], error=sql), {})
    assert p.results == {"failure": "an internal error (details are in the server log)"}
    oserror = OSError(28, "No space left on device", "/srv/data/pool/ab.qcow2")
    p = read_progress("t", detail(states.REVERTED, [states.REVERTED], fail=STEPS[0], error=oserror), {})
    assert p.results == {"failure": "an internal error ([Errno 28] No space left on device: 'ab.qcow2')"}
