"""POST /v3/{project_id}/clone-volumes/{task_id}/action {"cancel": {}} through HTTP: the
faults (a finished task 409, another project's or an unknown one 404, a bad body 400), each
changing nothing. The cancel of a running copy: tests/flows/test_cancel.py."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, Env

from .support import assert_fault, unique


def cancel(api: Api, task_id: str, body: Any = None) -> Any:
    return api.request("POST", f"/clone-volumes/{task_id}/action", json={"cancel": {}} if body is None else body)


@pytest.fixture(scope="module")
def finished(env: Env) -> tuple[str, dict[str, Any]]:
    """A task that succeeded, and its get_progress."""
    task = env.user.clone([env.user.create_volume(1, unique("cx"))["id"]])
    p = env.user.wait(task)
    assert p["flow_details"]["cloneFlow"] == "SUCCESS", p
    return task, p


def test_a_finished_task_is_a_409_and_stays_as_it_is(env: Env, finished: tuple[str, dict[str, Any]]) -> None:
    task, p = finished
    assert_fault(cancel(env.user, task), 409, "has ended (SUCCESS)")
    assert env.user.progress(task) == p
    for clone in p["details"]["results"].values():
        assert env.user.ok("GET", f"/volumes/{clone}")["volume"]["status"] == "available"


def test_another_projects_task_and_an_unknown_one_are_404s(env: Env, other: Api,
                                                           finished: tuple[str, dict[str, Any]]) -> None:
    task, _ = finished
    assert_fault(cancel(other, task), 404, "could not be found")
    assert_fault(cancel(env.user, "4b1bd5f7-0000-4000-8000-000000000000"), 404, "could not be found")
    assert_fault(cancel(env.user, "x" * 300), 404)


@pytest.mark.parametrize("body, says", [
    ({"cancle": {}}, "there is no action cancle"),
    ({"cancel": {}, "os-extend": {}}, "there is no action os-extend"),
    ({}, "exactly one action"),
    ({"cancel": {"force": True}}, "force"),
    ({"cancel": "now"}, "cancel"),
    ([], None),
    ("cancel", None),
])
def test_a_bad_body_is_a_400(env: Env, finished: tuple[str, dict[str, Any]], body: Any, says: str | None) -> None:
    task, p = finished
    assert_fault(cancel(env.user, task, body), 400, says)
    assert env.user.progress(task) == p


def test_null_options_are_a_cancel_too(env: Env, finished: tuple[str, dict[str, Any]]) -> None:
    """Cinder's clients send null for an action without options; it is read as {}."""
    assert_fault(cancel(env.user, finished[0], {"cancel": None}), 409, "has ended")
