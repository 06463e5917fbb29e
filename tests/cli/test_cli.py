"""The client commands, run as the real ``volclone`` console script against a real server.

    .venv/bin/python -m pytest -q tests/cli
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import VOLCLONE, Env, free_port, run_cli
from volclone.cli.commands import copy_line, running_steps
from volclone.client import Client, ClientError, task_id_from_uri

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Run = Callable[..., subprocess.CompletedProcess[str]]


def cli_for(env: Env) -> Run:
    """``run("volume", "list", token=...)``: the CLI as project p1, talking to ``env``'s server."""

    def run(*args: str, token: str | None = None, url: str | None = None, project: str = "p1",
            **extra_env: str) -> subprocess.CompletedProcess[str]:
        cli_env = {"VOLCLONE_URL": url or env.server.url, "OS_PROJECT_ID": project,
                   "OS_AUTH_TOKEN": env.user_token if token is None else token, **extra_env}
        return run_cli(env.server.data_dir, *args, env=cli_env, check=False)

    return run


@pytest.fixture
def cli(env: Env) -> Run:
    return cli_for(env)


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(result.stdout)


def ok_text(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def assert_error(result: subprocess.CompletedProcess[str], prefix: str, *words: str) -> None:
    """Exit 1, a clean error line last on stderr (a progress bar may come before), no traceback anywhere."""
    assert result.returncode == 1, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.splitlines()[-1].startswith(prefix), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_volume(cli: Run, name: str) -> dict[str, Any]:
    return ok_json(cli("volume", "create", "--size", "1", "--name", name, "--json"))  # type: ignore[no-any-return]


def table_row(text: str, needle: str) -> str:
    """The one output line that holds ``needle``."""
    lines = [line for line in text.splitlines() if needle in line]
    assert len(lines) == 1, f"{needle!r} is on {len(lines)} lines of:\n{text}"
    return lines[0]


# -- volume -------------------------------------------------------------------------
def test_volume_create_show_list_delete_json(cli: Run) -> None:
    vol = ok_json(cli("volume", "create", "--size", "2", "--name", "db", "--description", "the db",
                      "--metadata", "tier=gold", "--metadata", "owner=ops", "--json"))
    assert (vol["size"], vol["name"], vol["description"], vol["status"]) == (2, "db", "the db", "available")
    assert vol["metadata"] == {"tier": "gold", "owner": "ops"}

    assert ok_json(cli("volume", "show", vol["id"], "--json"))["id"] == vol["id"]
    listed = {v["id"]: v for v in ok_json(cli("volume", "list", "--json"))}
    assert listed[vol["id"]]["name"] == "db"

    assert ok_json(cli("volume", "delete", vol["id"], "--json")) == {"deleted": [vol["id"]], "failed": {}}
    assert_error(cli("volume", "show", vol["id"]), "Error (HTTP 404 itemNotFound):", vol["id"])


def test_volume_tables(cli: Run) -> None:
    name = unique("tbl")
    created = ok_text(cli("volume", "create", "--size", "1", "--name", name, "--metadata", "k=v"))
    vid = UUID.search(table_row(created, " id ")).group(0)  # type: ignore[union-attr]
    assert name in table_row(created, " name ")

    row = table_row(ok_text(cli("volume", "list")), vid)
    assert name in row and "available" in row

    shown = ok_text(cli("volume", "show", vid))
    assert "k=v" in table_row(shown, " metadata ")

    assert ok_text(cli("volume", "delete", vid)).strip() == f"Deleted volume {vid}"


def test_volume_delete_goes_on_after_a_failure(cli: Run) -> None:
    vol = new_volume(cli, unique("del"))
    result = cli("volume", "delete", "no-such-volume", vol["id"])
    assert_error(result, "Error (HTTP 404 itemNotFound):", "no-such-volume")
    assert f"Deleted volume {vol['id']}" in result.stdout
    assert_error(cli("volume", "show", vol["id"]), "Error (HTTP 404 itemNotFound):")


def test_bad_metadata_is_a_usage_error(cli: Run) -> None:
    result = cli("volume", "create", "--size", "1", "--metadata", "novalue")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr and "Traceback" not in result.stderr


# -- type -----------------------------------------------------------------------------
def test_type_create_list_and_use(env: Env, cli: Run) -> None:
    name = unique("gold")
    vtype = ok_json(cli("type", "create", name, "--description", "fast disks", "--property",
                        "volume_backend_name=local", "--private", "--json", token=env.admin_token))
    assert (vtype["name"], vtype["description"], vtype["is_public"]) == (name, "fast disks", False)
    assert vtype["extra_specs"] == {"volume_backend_name": "local"}

    assert name in {t["name"] for t in ok_json(cli("type", "list", "--json", token=env.admin_token))}
    row = table_row(ok_text(cli("type", "list", token=env.admin_token)), name)
    assert vtype["id"] in row and "volume_backend_name=local" in row
    # A private type is the admins' own: a user neither sees nor uses it.
    assert name not in {t["name"] for t in ok_json(cli("type", "list", "--json"))}
    assert_error(cli("volume", "create", "--size", "1", "--type", name), "Error (HTTP 404 itemNotFound):")

    # volume create takes the type's name or id
    by_name = ok_json(cli("volume", "create", "--size", "1", "--type", name, "--json", token=env.admin_token))
    by_id = ok_json(cli("volume", "create", "--size", "1", "--type", vtype["id"], "--json", token=env.admin_token))
    assert by_name["volume_type"] == by_id["volume_type"] == name


def test_type_create_needs_admin(cli: Run) -> None:
    assert_error(cli("type", "create", unique("nope")), "Error (HTTP 403 forbidden):")


# -- clone ------------------------------------------------------------------------------
def test_clone_one_volume_json(cli: Run) -> None:
    src = new_volume(cli, unique("src"))
    name = unique("demo")
    out = ok_json(cli("clone", src["id"], "--name", name, "--description", "a copy", "--json"))
    assert out["state"] == "SUCCESS"
    assert list(out["results"]) == [src["id"]]
    clone_id = out["results"][src["id"]]
    assert out["clones"] == [{"source_id": src["id"], "clone_id": clone_id, "clone_name": f"clone-{name}"}]
    clone = ok_json(cli("volume", "show", clone_id, "--json"))
    assert (clone["name"], clone["description"], clone["status"]) == (f"clone-{name}", "a copy", "available")


def test_clone_one_volume_without_name_is_named_after_the_source(cli: Run) -> None:
    src = new_volume(cli, unique("srcvol"))
    out = ok_json(cli("clone", src["id"], "--json"))
    assert out["clones"][0]["clone_name"] == f"clone-{src['name']}"


def test_clone_two_volumes_json(cli: Run) -> None:
    a, b = new_volume(cli, unique("a")), new_volume(cli, unique("b"))
    name = unique("pair")
    out = ok_json(cli("clone", a["id"], b["id"], "--name", name, "--json"))
    assert out["state"] == "SUCCESS"
    assert set(out["results"]) == {a["id"], b["id"]}
    assert len(set(out["results"].values())) == 2
    assert [(c["source_id"], c["clone_id"], c["clone_name"]) for c in out["clones"]] == [
        (a["id"], out["results"][a["id"]], f"clone-{name}-1"),
        (b["id"], out["results"][b["id"]], f"clone-{name}-2"),
    ]
    for c in out["clones"]:
        assert ok_json(cli("volume", "show", c["clone_id"], "--json"))["name"] == c["clone_name"]


def test_clone_prints_a_source_to_clone_table(cli: Run) -> None:
    a, b = new_volume(cli, unique("a")), new_volume(cli, unique("b"))
    name = unique("tbl")
    result = cli("clone", a["id"], b["id"], "--name", name)
    text = ok_text(result)
    assert "Source ID" in text and "Clone ID" in text and "Clone name" in text
    for source, suffix in ((a, 1), (b, 2)):
        row = table_row(text, source["id"])
        assert "→" in row and f"clone-{name}-{suffix}" in row
        clone_id = [u for u in UUID.findall(row) if u != source["id"]][0]
        assert ok_json(cli("volume", "show", clone_id, "--json"))["name"] == f"clone-{name}-{suffix}"
    assert "100%" in result.stderr  # the progress bar's last state


def test_clone_to_a_target_type_by_name(env: Env, cli: Run) -> None:
    tname = unique("target")
    vtype = ok_json(cli("type", "create", tname, "--property", "volume_backend_name=local", "--json",
                        token=env.admin_token))
    src = new_volume(cli, unique("src"))
    out = ok_json(cli("clone", src["id"], "--type", tname, "--json"))
    clone = ok_json(cli("volume", "show", out["results"][src["id"]], "--json"))
    assert clone["volume_type"] == vtype["name"] == tname


def test_clone_to_an_unknown_type(cli: Run) -> None:
    src = new_volume(cli, unique("src"))
    assert_error(cli("clone", src["id"], "--type", "no-such-type"), "Error: ", "no-such-type")


def test_clone_status(cli: Run) -> None:
    src = new_volume(cli, unique("src"))
    task_id = ok_text(cli("clone", src["id"], "--no-wait")).strip()
    assert UUID.fullmatch(task_id)
    final = ok_json(cli("clone", "status", task_id, "--json"))
    while final["flow_details"]["cloneFlow"] not in ("SUCCESS", "REVERTED", "FAILURE"):
        final = ok_json(cli("clone", "status", task_id, "--json"))
    assert (final["progress"], final["flow_details"], final["pending_tasks"]) == (100, {"cloneFlow": "SUCCESS"}, {})
    clone_id = final["details"]["results"][src["id"]]

    text = ok_text(cli("clone", "status", task_id))
    assert f"Task {task_id}: SUCCESS, 100%" in text
    assert "SUCCESS" in table_row(text, "create_group_snapshot")
    row = table_row(text, src["id"])
    assert "→" in row and clone_id in row


def test_clone_watch_follows_a_task_to_its_end(cli: Run) -> None:
    srcs = [new_volume(cli, unique("src")) for _ in range(2)]
    task_id = ok_text(cli("clone", *(s["id"] for s in srcs), "--no-wait")).strip()
    lines = [json.loads(line) for line in ok_text(cli("clone", "watch", task_id, "--json")).splitlines()]
    assert lines[-1]["event"] == "end" and lines[-1]["id"] == "end"
    assert lines[-1]["data"] == ok_json(cli("clone", "status", task_id, "--json"))
    assert [e["data"]["state"] for e in lines if e["event"] == "flow"] == ["PENDING", "RUNNING", "SUCCESS"]
    result = cli("clone", "watch", task_id)
    text = ok_text(result)
    for s in srcs:  # the clones, in the request's order
        assert lines[-1]["data"]["details"]["results"][s["id"]] in table_row(text, s["id"])
    assert f"Task {task_id}" in result.stderr and "100%" in result.stderr  # the bar's last state


def test_clone_watch_of_an_unknown_task(cli: Run) -> None:
    assert_error(cli("clone", "watch", str(uuid.uuid4())), "Error (HTTP 404 itemNotFound):")


def test_clone_show_prints_the_set_and_its_consistency(cli: Run) -> None:
    srcs = [new_volume(cli, unique("src")) for _ in range(2)]
    out = ok_json(cli("clone", *(s["id"] for s in srcs), "--json"))
    shown = ok_json(cli("clone", "show", out["task_id"], "--json"))
    assert [e["source_id"] for e in shown["manifest"]] == [s["id"] for s in srcs]
    assert shown["consistency"]["level"] == "crash-consistent"
    text = ok_text(cli("clone", "show", out["task_id"]))
    for s in srcs:
        assert out["results"][s["id"]] in table_row(text, s["id"])
    assert "crash-consistent by qmp-transaction at " in text


def test_clone_status_of_an_unknown_task(cli: Run) -> None:
    assert_error(cli("clone", "status", str(uuid.uuid4())), "Error (HTTP 404 itemNotFound):")


def test_reverted_clone_prints_the_failure_and_exits_1(make_env: Callable[..., Env]) -> None:
    env = make_env(VOLCLONE_FAILPOINTS="create_group_clone")
    cli = cli_for(env)
    src = new_volume(cli, "src")
    assert_error(cli("clone", src["id"], "--name", "x"), "Error: ", "REVERTED", "failpoint hit")
    result = cli("clone", src["id"], "--json")
    assert_error(result, "Error: ", "REVERTED")
    out = json.loads(result.stdout)
    assert out["state"] == "REVERTED" and "failpoint hit" in out["results"]["failure"]
    assert [v["id"] for v in ok_json(cli("volume", "list", "--json"))] == [src["id"]]


def test_clone_cancel_stops_a_task_and_a_finished_one_is_a_409(make_env: Callable[..., Env]) -> None:
    env = make_env(VOLCLONE_FAILPOINTS="pause:create_group_clone")  # each task holds there until cancelled
    cli = cli_for(env)
    src = new_volume(cli, "src")
    task = ok_text(cli("clone", src["id"], "--no-wait")).strip()
    with Client(env.server.url, env.user_token, "p1") as client:
        while client.progress(task)["pending_tasks"].get(f"create_group_clone-{task[:8]}") != "RUNNING":
            time.sleep(0.02)
    out = ok_text(cli("clone", "cancel", task, "--wait"))
    assert out.strip() == f"Clone task {task} ended REVERTED: the clone task was cancelled on request"
    assert [v["id"] for v in ok_json(cli("volume", "list", "--json"))] == [src["id"]]
    assert_error(cli("clone", "cancel", task), "Error (HTTP 409 conflictingRequest):", "has ended (REVERTED)")
    task = ok_text(cli("clone", src["id"], "--no-wait")).strip()
    assert ok_json(cli("clone", "cancel", task, "--json")) == {"task_id": task, "cancel": "requested"}


def test_clone_cancel_of_an_unknown_task_is_a_404(cli: Run) -> None:
    assert_error(cli("clone", "cancel", str(uuid.uuid4())), "Error (HTTP 404 itemNotFound):")


# -- errors --------------------------------------------------------------------------------
def test_unknown_volume_is_a_404(cli: Run) -> None:
    missing = str(uuid.uuid4())
    result = cli("volume", "show", missing)
    assert_error(result, "Error (HTTP 404 itemNotFound):", missing, "could not be found")
    assert result.stderr == f"Error (HTTP 404 itemNotFound): volume {missing} could not be found\n"
    assert_error(cli("volume", "show", missing, "--json"), "Error (HTTP 404 itemNotFound):")
    assert_error(cli("clone", missing), "Error (HTTP 404 itemNotFound):", missing)


def test_missing_token_is_a_401(cli: Run) -> None:
    assert_error(cli("volume", "list", token=""), "Error (HTTP 401 unauthorized):")


def test_server_not_running(cli: Run) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("volume", "list", url=url)
    assert_error(result, "Error: cannot connect to volclone at", url)
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_missing_project_is_a_usage_error(cli: Run) -> None:
    result = cli("volume", "list", project="")
    assert result.returncode == 2
    assert "OS_PROJECT_ID" in result.stderr and "Traceback" not in result.stderr


def test_clone_help_shows_both_forms(cli: Run) -> None:
    assert "Usage: volclone clone [OPTIONS] VOL..." in ok_text(cli("clone", "--help"))
    assert "Usage: volclone clone status [OPTIONS] TASK_ID" in ok_text(cli("clone", "status", "--help"))
    missing = cli("clone")
    assert missing.returncode == 2 and "Missing argument 'VOL...'" in missing.stderr


def test_twenty_clis_sending_one_idempotency_key_at_once_start_one_task(env: Env) -> None:
    """A retry storm from the command line: twenty ``volclone clone --idempotency-key K`` at once."""
    vols = [env.user.create_volume(1, f"storm-{i}")["id"] for i in range(2)]
    key = f"storm-{uuid.uuid4()}"
    run_env = {**os.environ, "VOLCLONE_DATA_DIR": str(env.server.data_dir), "VOLCLONE_URL": env.server.url,
               "OS_PROJECT_ID": "p1", "OS_AUTH_TOKEN": env.user_token}
    run_env.pop("COLUMNS", None)
    procs = [subprocess.Popen([VOLCLONE, "clone", *vols, "--no-wait", "--idempotency-key", key], env=run_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(20)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, [err for _, err in outs if err]
    [task_id] = {out.strip() for out, _ in outs}
    assert UUID.fullmatch(task_id)
    assert sorted(env.user.wait(task_id)["details"]["results"]) == sorted(vols)


def test_clone_sends_its_request_again_with_the_same_key_when_the_answer_is_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("volclone.client.RETRY_BACKOFF_S", 0.0)
    answers: list[Any] = [httpx.ReadTimeout("lost"), httpx.Response(503, json={"serviceUnavailable": {
        "code": 503, "message": "restarting"}}), httpx.Response(200, json={"clone-volumes": {
            "task_uri": "http://volclone.test/v3/p1/clone-volumes/get_progress?action=clone-volumes&task_id=t1"}})]
    keys: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["idempotency-key"])
        got = answers.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    with Client("http://volclone.test", "t", "p1", transport=httpx.MockTransport(answer)) as client:
        assert client.clone(["a", "b"]) == "t1"
    assert len(keys) == 3 and len(set(keys)) == 1


def test_clone_answered_with_a_client_error_is_not_sent_again() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(404, json={"itemNotFound": {"code": 404, "message": "volume a could not be found"}})

    with Client("http://volclone.test", "t", "p1", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(ClientError) as info:
            client.clone(["a"], idempotency_key="mine")
    assert info.value.status == 404 and len(sent) == 1 and sent[0].headers["idempotency-key"] == "mine"


# -- the client as a library (the transport seam, no server) -------------------------------
def test_client_error_from_a_body_that_is_no_fault() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="bad gateway"))
    with Client("http://volclone.test", "t", "p1", transport=transport) as client:
        with pytest.raises(ClientError) as info:
            client.list_types()
    assert (info.value.status, info.value.message) == (502, "bad gateway")


def test_watch_keeps_a_bars_body_from_the_events_and_returns_the_end_body() -> None:
    final = {"progress": 100, "flow_details": {"cloneFlow": "SUCCESS"}, "pending_tasks": {},
             "details": {"results": {"s": "c"}}, "task_id": "t"}
    body = "".join(f"id: {n}\r\nevent: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for n, (name, data) in
                   enumerate([("flow", {"flow": "cloneFlow", "state": "RUNNING", "observed": True}),
                              ("state", {"task": "create_group_clone-t", "state": "RUNNING", "observed": True}),
                              ("progress", {"progress": 40, "bytes_done": 1024**3, "bytes_total": 4 * 1024**3,
                                            "bytes_per_second": 512 * 1024**2, "eta_seconds": 6.0})], 1))
    body += ": ping - keep-alive\r\n\r\n" + f"id: end\r\nevent: end\r\ndata: {json.dumps(final)}\r\n\r\n"
    transport = httpx.MockTransport(lambda request: httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=body.encode()))
    seen: list[dict[str, Any]] = []
    with Client("http://volclone.test", "t", "p1", transport=transport) as client:
        assert client.watch("t", on_progress=seen.append) == final
    copying = seen[2]
    assert running_steps(copying) == "create_group_clone-t" and copying["progress"] == 40
    assert copy_line(copying) == ", 1.0 GiB of 4.0 GiB at 512.0 MiB/s, 6 s left"
    assert seen[-1] == final


def test_watch_polls_a_server_that_answers_without_a_stream() -> None:
    answers = iter([{"progress": 50, "flow_details": {"cloneFlow": "RUNNING"}, "pending_tasks": {}},
                    {"progress": 50, "flow_details": {"cloneFlow": "RUNNING"}, "pending_tasks": {}},
                    {"progress": 100, "flow_details": {"cloneFlow": "SUCCESS"}, "pending_tasks": {}}])
    accepts = []

    def answer(request: httpx.Request) -> httpx.Response:
        accepts.append(request.headers["accept"])
        return httpx.Response(200, json=next(answers))

    with Client("http://volclone.test", "t", "p1", transport=httpx.MockTransport(answer)) as client:
        final = client.watch("t")
    assert final["flow_details"] == {"cloneFlow": "SUCCESS"}
    assert accepts[0] == "text/event-stream" and set(accepts[1:]) == {"application/json"}


def test_client_lists_volumes_page_after_page() -> None:
    pages = {None: (["a", "b"], "b"), "b": (["c", "d"], "d"), "d": (["e"], None)}
    asked = []

    def answer(request: httpx.Request) -> httpx.Response:
        marker = request.url.params.get("marker")
        asked.append(str(request.url))
        ids, last = pages[marker]
        body: dict[str, object] = {"volumes": [{"id": i} for i in ids]}
        if last:
            body["volumes_links"] = [{"rel": "next", "href": f"http://volclone.test/v3/p1/volumes/detail?marker={last}"}]
        return httpx.Response(200, json=body)

    with Client("http://volclone.test", "t", "p1", transport=httpx.MockTransport(answer)) as client:
        assert [v["id"] for v in client.list_volumes()] == ["a", "b", "c", "d", "e"]
    assert asked[0] == "http://volclone.test/v3/p1/volumes/detail" and len(asked) == 3


def test_client_sends_the_token_and_parses_the_task_id() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Auth-Token"] == "t"
        assert json.loads(request.content) == {"clone-volumes": {"volumes": ["v1"], "display-name": "d"}}
        uri = "http://volclone.test/v3/p1/clone-volumes/get_progress?action=clone-volumes&task_id=t-1"
        return httpx.Response(200, json={"clone-volumes": {"task_uri": uri}})

    with Client("http://volclone.test", "t", "p1", transport=httpx.MockTransport(answer)) as client:
        assert client.clone(["v1"], name="d") == "t-1"
    with pytest.raises(ClientError):
        task_id_from_uri("http://volclone.test/v3/p1/clone-volumes/get_progress")


def test_clone_revert_puts_the_sources_back_and_says_why_it_refuses(cli: Run, env: Env) -> None:
    a, b = new_volume(cli, unique("a")), new_volume(cli, unique("b"))
    task = ok_json(cli("clone", a["id"], b["id"], "--json"))["task_id"]
    out = ok_json(cli("clone", "revert", task, "--json"))
    assert out["state"] == "SUCCESS" and UUID.fullmatch(out["task_id"]), out
    assert out["results"] == ok_json(cli("clone", "status", task, "--json"))["details"]["results"]
    assert ok_json(cli("clone", "status", out["task_id"], "--json"))["flow_details"] == {"revertFlow": "SUCCESS"}
    text = ok_text(cli("clone", "revert", task))
    assert "Has the data of clone" in text and a["id"] in text and b["id"] in text, text
    assert_error(cli("clone", "revert", out["task_id"]), "Error (HTTP 409 conflictingRequest)", "is a revert")
    assert_error(cli("clone", "revert", str(uuid.uuid4())), "Error (HTTP 404 itemNotFound)")
