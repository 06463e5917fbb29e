"""POST /v3/{project_id}/clone-volumes/revert (a volclone extension): bad bodies and refusals
answer a clear 4xx in the OpenStack fault format and change nothing; get_progress reads a
revert's task by its own ``action``."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .support import assert_fault, creates_nothing, set_status, unique

REVERT = "/clone-volumes/revert"


@pytest.fixture(scope="module")
def cloned(env: Any) -> Any:
    """One source and its SUCCESS clone task."""
    src = env.user.create_volume(1, unique("src"))["id"]
    task = env.user.clone([src])
    p = env.user.wait(task)
    assert p["flow_details"] == {"cloneFlow": "SUCCESS"}, p
    yield src, task, p["details"]["results"][src]
    for vid in (p["details"]["results"][src], src):
        env.user.request("DELETE", f"/volumes/{vid}")


@pytest.mark.parametrize("body", [
    {}, {"revert": {}}, {"revert": {"task_id": 7}}, {"revert": {"task_id": ""}},
    {"revert": {"task_id": "x", "more": 1}}, {"revert": "x"}, {"reverts": {"task_id": "x"}}, [],
])
def test_a_bad_body_is_a_400(env: Any, body: Any) -> None:
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", REVERT, json=body), 400)


def test_an_unknown_or_other_projects_task_is_a_404(env: Any, other: Any, cloned: Any) -> None:
    _, task, _ = cloned
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", REVERT, json={"revert": {"task_id": "nope"}}), 404, "nope")
        assert_fault(other.request("POST", REVERT, json={"revert": {"task_id": task}}), 404, task)


def test_an_attached_source_is_a_409(env: Any, cloned: Any) -> None:
    src, task, _ = cloned
    set_status(env.server, src, "in-use")
    try:
        with creates_nothing(env.server):
            assert_fault(env.user.request("POST", REVERT, json={"revert": {"task_id": task}}), 409, "attached")
    finally:
        set_status(env.server, src, "available")


def test_a_revert_is_read_with_its_own_action(env: Any, cloned: Any) -> None:
    src, task, clone = cloned
    r = env.user.request("POST", REVERT, json={"revert": {"task_id": task}})
    assert r.status_code == 202, r.text
    assert list(r.json()) == ["revert"] and list(r.json()["revert"]) == ["task_uri"]
    uri = httpx.URL(r.json()["revert"]["task_uri"])
    rid = uri.params["task_id"]
    p = httpx.get(str(uri), headers={"X-Auth-Token": env.user_token}).json()
    assert p["task_id"] == rid and list(p["flow_details"]) == ["revertFlow"]
    assert_fault(env.user.request("GET", "/clone-volumes/get_progress",
                                  params={"action": "clone-volumes", "task_id": rid}), 404, "clone task")
    assert_fault(env.user.request("GET", "/clone-volumes/get_progress",
                                  params={"action": "clone-volumes-revert", "task_id": task}), 404, "revert task")
    for _ in range(3000):
        p = env.user.ok("GET", "/clone-volumes/get_progress", params={"action": "clone-volumes-revert",
                                                                     "task_id": rid})
        if p["flow_details"]["revertFlow"] in ("SUCCESS", "REVERTED", "FAILURE"):
            break
        time.sleep(0.02)
    assert p["flow_details"] == {"revertFlow": "SUCCESS"}, p
    assert p["details"]["results"] == {src: clone}
    # a revert's task is no clone task to revert to
    assert_fault(env.user.request("POST", REVERT, json={"revert": {"task_id": rid}}), 409, "is a revert")
