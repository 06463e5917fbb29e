"""get_progress is derived from TaskFlow's persisted atom states (real TaskFlow models, no fakes)."""

from taskflow import states
from taskflow.persistence import models
from taskflow.types import failure

from volclone.domain import TaskState
from volclone.flows.progress import read_progress

STEPS = ["create_src_vol_group-t", "create_group_snapshot-t", "create_group_clone-t", "set_clones_available-t"]


def detail(flow_state, atom_states, progress_of_running=0.0, fail=None):
    fd = models.FlowDetail("cloneFlow", uuid="f")
    fd.state = flow_state
    for name, state in zip(STEPS, atom_states, strict=False):
        ad = models.TaskDetail(name, uuid=name)
        ad.state = state
        if state == states.RUNNING:
            ad.meta = {"progress": progress_of_running}
        if fail and name == fail:
            try:
                raise RuntimeError("disk on fire")
            except RuntimeError:
                ad.failure = failure.Failure()
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
