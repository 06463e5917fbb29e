"""POST /v3/{project_id}/clone-volumes and get_progress, as the spec gives them."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .support import assert_fault, clone_body, creates_nothing, set_status, task_id_of, unique

FINAL = {"SUCCESS", "REVERTED", "FAILURE"}


@pytest.fixture(scope="module")
def sources(env):
    """Two available volumes (1 and 2 GiB) of project p1 to clone from."""
    vols = [env.user.create_volume(1, unique("src"), metadata={"origin": "a"}),
            env.user.create_volume(2, unique("src"), description="second")]
    yield vols
    for v in vols:
        env.user.request("DELETE", f"/volumes/{v['id']}")


def clone_volumes(env, ids, **fields):
    return env.user.request("POST", "/clone-volumes", json=clone_body(ids, **fields))


def delete_clones(env, progress):
    for cid in progress["details"]["results"].values():
        env.user.ok("DELETE", f"/volumes/{cid}")


# -- the request and its answer --------------------------------------------------
def test_post_answers_200_with_this_servers_task_uri(env, sources):
    r = clone_volumes(env, [v["id"] for v in sources])
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["clone-volumes"] and list(body["clone-volumes"]) == ["task_uri"]
    uri = body["clone-volumes"]["task_uri"]
    prefix = f"{env.server.url}/v3/p1/clone-volumes/get_progress?action=clone-volumes&task_id="
    assert uri.startswith(prefix), uri
    task_id = uri[len(prefix):]
    assert str(uuid.UUID(task_id)) == task_id
    # the URI works as given
    r = httpx.get(uri, headers={"X-Auth-Token": env.user_token})
    assert r.status_code == 200, r.text
    assert r.json()["task_id"] == task_id
    delete_clones(env, env.user.wait(task_id))


def test_progress_after_success(env, sources):
    ids = [v["id"] for v in sources]
    task = task_id_of(clone_volumes(env, ids, **{"display-name": unique("p")}))
    p = env.user.wait(task)
    try:
        d = p["details"]
        assert set(d) >= {"results", "completed_tasks", "pending_tasks", "progress", "flow_details"}
        assert d["flow_details"] == p["flow_details"] == {"cloneFlow": "SUCCESS"}
        assert d["progress"] == p["progress"] == 100
        assert d["pending_tasks"] == p["pending_tasks"] == {}
        # results: source id -> clone id, for exactly the sources; the clones are new volumes
        assert list(d["results"]) == ids
        clone_ids = list(d["results"].values())
        assert len(set(clone_ids)) == 2 and not set(clone_ids) & set(ids)
        # every step finished; steps are named in the spec's vocabulary
        assert d["completed_tasks"] and set(d["completed_tasks"].values()) == {"SUCCESS"}
        for step in ("create_group_snapshot", "set_metadata_for_volume", "delete_group_snapshot"):
            assert any(name.startswith(step) for name in d["completed_tasks"]), d["completed_tasks"]
        # an extension: what consistency the set got, and how (one QMP transaction on the local pool)
        assert {k: d["consistency"][k] for k in ("level", "method", "members")} == {
            "level": "crash-consistent", "method": "qmp-transaction", "members": ids}
        # a finished task reads the same every time
        assert env.user.progress(task) == p
    finally:
        delete_clones(env, p)


def test_clones_are_real_available_volumes_that_name_their_source(env, sources):
    ids = [v["id"] for v in sources]
    task = task_id_of(clone_volumes(env, ids, description="nightly"))
    p = env.user.wait(task)
    try:
        for src in sources:
            cid = p["details"]["results"][src["id"]]
            c = env.user.ok("GET", f"/volumes/{cid}")["volume"]
            assert c["status"] == "available"
            assert c["size"] == src["size"]
            assert c["volume_type"] == src["volume_type"]
            assert c["description"] == "nightly"
            assert c["metadata"]["clone_source_volume_id"] == src["id"]
            assert c["metadata"]["clone_task_id"] == task
            assert c["source_volid"] == src["id"]
            assert c["os-vol-tenant-attr:tenant_id"] == "p1"
            assert env.server.active_file(cid).exists()
            # the source is as it was
            s = env.user.ok("GET", f"/volumes/{src['id']}")["volume"]
            assert (s["status"], s["metadata"], s["name"]) == ("available", src["metadata"], src["name"])
    finally:
        delete_clones(env, p)


def test_progress_while_running(env, sources):
    task = task_id_of(clone_volumes(env, [v["id"] for v in sources]))
    snaps = []
    while True:
        p = env.user.progress(task)
        snaps.append(p)
        if p["flow_details"]["cloneFlow"] in FINAL:
            break
    try:
        running = snaps[:-1]
        assert running, "the flow ended before it was ever seen running"
        steps = set(snaps[-1]["details"]["completed_tasks"])
        for p in running:
            d = p["details"]
            assert d["results"] == {}
            assert p["pending_tasks"] == d["pending_tasks"]
            assert p["progress"] == d["progress"] < 100
            assert p["flow_details"] == d["flow_details"]
            # every step is either completed or pending, never both
            assert not set(d["completed_tasks"]) & set(d["pending_tasks"])
            assert set(d["completed_tasks"]) | set(d["pending_tasks"]) == steps
            assert set(d["pending_tasks"].values()) <= {"PENDING", "RUNNING"}
        progresses = [p["progress"] for p in snaps]
        assert progresses == sorted(progresses) and progresses[-1] == 100
    finally:
        delete_clones(env, snaps[-1])


# -- target-volume-type-id ----------------------------------------------------------
def test_target_type_is_given_to_the_clones(env, sources):
    t = env.admin.ok("POST", "/types", json={"volume_type": {
        "name": unique("type"), "extra_specs": {"volume_backend_name": "local"}}})["volume_type"]
    p = env.user.wait(task_id_of(clone_volumes(env, [v["id"] for v in sources], **{"target-volume-type-id": t["id"]})))
    try:
        assert p["flow_details"] == {"cloneFlow": "SUCCESS"}
        for src in sources:
            c = env.user.ok("GET", f"/volumes/{p['details']['results'][src['id']]}")["volume"]
            assert c["volume_type"] == t["name"]
            assert env.user.ok("GET", f"/volumes/{src['id']}")["volume"]["volume_type"] == src["volume_type"]
    finally:
        delete_clones(env, p)
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_unknown_target_type_is_404(env, sources):
    missing = str(uuid.uuid4())
    with creates_nothing(env.server):
        assert_fault(clone_volumes(env, [sources[0]["id"]], **{"target-volume-type-id": missing}), 404, missing)


# -- bad requests create nothing --------------------------------------------------
BAD_BODIES = {
    "no clone-volumes": {"volumes": ["V0"]},
    "clone-volumes null": {"clone-volumes": None},
    "clone-volumes a list": {"clone-volumes": ["V0"]},
    "no volumes": {"clone-volumes": {"display-name": "x"}},
    "volumes a string": {"clone-volumes": {"volumes": "V0"}},
    "volumes null": {"clone-volumes": {"volumes": None}},
    "volume id a number": {"clone-volumes": {"volumes": [1]}},
    "volume id null": {"clone-volumes": {"volumes": ["V0", None]}},
    "volume id a dict": {"clone-volumes": {"volumes": [{"id": "V0"}]}},
    "empty volumes": {"clone-volumes": {"volumes": []}},
    "duplicate volume": {"clone-volumes": {"volumes": ["V0", "V1", "V0"]}},
    "display-name a number": {"clone-volumes": {"volumes": ["V0"], "display-name": 5}},
    "display-name too long": {"clone-volumes": {"volumes": ["V0"], "display-name": "n" * 256}},
    "description a list": {"clone-volumes": {"volumes": ["V0"], "description": ["d"]}},
    "target type a number": {"clone-volumes": {"volumes": ["V0"], "target-volume-type-id": 7}},
    "underscore display_name": {"clone-volumes": {"volumes": ["V0"], "display_name": "x"}},
    "underscore target_volume_type_id": {"clone-volumes": {"volumes": ["V0"], "target_volume_type_id": "x"}},
    "unknown inner field": {"clone-volumes": {"volumes": ["V0"], "consistent": True}},
    "unknown outer field": {"clone-volumes": {"volumes": ["V0"]}, "force": True},
    "underscore clone_volumes": {"clone_volumes": {"volumes": ["V0"]}},
    "body a list": ["V0"],
    "body a string": "V0",
}


def fill(body, sources):
    """The body with V0/V1 replaced by the real source ids, so only the named fault is wrong."""
    if isinstance(body, dict):
        return {k: fill(v, sources) for k, v in body.items()}
    if isinstance(body, list):
        return [fill(v, sources) for v in body]
    if body in ("V0", "V1"):
        return sources[int(body[1])]["id"]
    return body


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_bodies_are_400_and_create_nothing(env, sources, case):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/clone-volumes", json=fill(BAD_BODIES[case], sources)), 400)


@pytest.mark.parametrize("content, ctype", [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b'{"clone-volumes": {"volumes": [', "application/json"),
    (b'{"clone-volumes": {"volumes": []}}', "text/plain"),
    (b"volumes=x", "application/x-www-form-urlencoded"),
])
def test_malformed_requests_are_400_and_create_nothing(env, content, ctype):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/clone-volumes", content=content, headers={"Content-Type": ctype}),
                     400)


def test_unknown_volume_is_404_and_creates_nothing(env, sources):
    missing = str(uuid.uuid4())
    with creates_nothing(env.server):
        assert_fault(clone_volumes(env, [missing]), 404, missing)
        assert_fault(clone_volumes(env, [sources[0]["id"], missing, sources[1]["id"]]), 404, missing)


@pytest.mark.parametrize("status", ["error"])  # every status: tests/unit/test_clone_validation.py
def test_a_source_that_cannot_be_cloned_is_400_and_creates_nothing(env, sources, status):
    set_status(env.server, sources[1]["id"], status)
    try:
        with creates_nothing(env.server):
            assert_fault(clone_volumes(env, [sources[0]["id"], sources[1]["id"]]), 400, status)
    finally:
        set_status(env.server, sources[1]["id"], "available")


# The service's answer to odd ids is proven in tests/unit/test_clone_validation.py; these
# two prove they pass the HTTP layer (JSON, the body's schema) intact.
@pytest.mark.parametrize("ids", [["x" * 10_000], ["a\u0000b"]])
def test_odd_volume_ids_are_404_never_500(env, ids):
    with creates_nothing(env.server):
        assert_fault(clone_volumes(env, ids), 404)


@pytest.mark.parametrize("type_id", ["\u0000"])  # the others: tests/unit/test_clone_validation.py
def test_odd_target_type_ids_are_404_never_500(env, sources, type_id):
    with creates_nothing(env.server):
        assert_fault(clone_volumes(env, [sources[0]["id"]], **{"target-volume-type-id": type_id}), 404)


def test_default_limit_allows_many_volumes(env):
    ids = [env.user.create_volume(1, unique("many"))["id"] for _ in range(12)]
    p = env.user.wait(task_id_of(clone_volumes(env, ids)))
    try:
        assert p["flow_details"] == {"cloneFlow": "SUCCESS"}
        assert list(p["details"]["results"]) == ids
    finally:
        delete_clones(env, p)
        for vid in ids:
            env.user.ok("DELETE", f"/volumes/{vid}")


# -- get_progress errors -----------------------------------------------------------
@pytest.fixture(scope="module")
def done_task(env, sources):
    p = env.user.wait(task_id_of(clone_volumes(env, [sources[0]["id"]])))
    yield p["task_id"]
    delete_clones(env, p)


@pytest.mark.parametrize("params, status, says", [
    ({"action": "clone", "task_id": "T"}, 400, "action"),
    ({"action": "", "task_id": "T"}, 400, "action"),
    ({"action": "CLONE-VOLUMES", "task_id": "T"}, 400, "action"),
    ({"task_id": "T"}, 400, "action"),
    ({"action": "clone-volumes"}, 400, "task_id"),
    ({"action": "clone-volumes", "task_id": ""}, 400, "task_id"),
    ({"action": "clone-volumes", "task_id": "T", "verbose": "1"}, 400, "verbose"),
    ({"action": "clone-volumes", "task_id": str(uuid.UUID(int=5))}, 404, str(uuid.UUID(int=5))),
    ({"action": "clone-volumes", "task_id": "x" * 5000}, 404, None),
])
def test_get_progress_errors(env, done_task, params, status, says):
    params = {k: done_task if v == "T" else v for k, v in params.items()}
    assert_fault(env.user.request("GET", "/clone-volumes/get_progress", params=params), status, says)


def test_get_progress_needs_a_token(env, done_task):
    url = f"{env.server.url}/v3/p1/clone-volumes/get_progress?action=clone-volumes&task_id={done_task}"
    assert_fault(httpx.get(url), 401)
    assert_fault(httpx.get(url, headers={"X-Auth-Token": "forged"}), 401)


def test_clone_volumes_accepts_only_post_and_get_progress_only_get(env):
    assert_fault(env.user.request("GET", "/clone-volumes"), 405)
    assert_fault(env.user.request("PUT", "/clone-volumes", json=clone_body(["x"])), 405)
    assert_fault(env.user.request("DELETE", "/clone-volumes"), 405)
    assert_fault(env.user.request("POST", "/clone-volumes/get_progress?action=clone-volumes&task_id=x", json={}),
                 405)


# -- extensions ----------------------------------------------------------------------
def test_idempotency_key_retries_get_the_same_task_uri_and_another_body_is_a_409(env, sources):
    key = {"Idempotency-Key": unique("key")}
    ids = [v["id"] for v in sources]
    first = env.user.request("POST", "/clone-volumes", json=clone_body(ids), headers=key)
    again = env.user.request("POST", "/clone-volumes", json=clone_body(ids), headers=key)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json() == first.json()
    other = env.user.request("POST", "/clone-volumes", json=clone_body(ids, **{"display-name": "x"}), headers=key)
    assert_fault(other, 409, "another request body")
    progress = env.user.wait(task_id_of(first))
    delete_clones(env, progress)


def test_a_retry_storm_of_twenty_requests_with_one_key_makes_one_task(env, sources):
    """Twenty clients send the same key and body at the same instant: all get one task_uri, and
    the server holds one task and one set of clones."""
    key = {"Idempotency-Key": unique("storm")}
    ids = [v["id"] for v in sources]
    before = {v["id"] for v in env.user.ok("GET", "/volumes")["volumes"]}
    gate = threading.Barrier(20)

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=env.user.http.base_url, headers=env.user.http.headers, timeout=60) as http:
            gate.wait()
            return http.post("/clone-volumes", json=clone_body(ids), headers=key)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers if r.status_code != 200]
    assert len({r.json()["clone-volumes"]["task_uri"] for r in answers}) == 1
    task = task_id_of(answers[0])
    assert env.server.db_rows("SELECT count(*) FROM clone_idempotency_keys WHERE task_id = ?", task) == [(1,)]
    progress = env.user.wait(task)
    made = {v["id"] for v in env.user.ok("GET", "/volumes")["volumes"]} - before
    assert made == set(progress["details"]["results"].values()) and len(made) == len(ids)
    delete_clones(env, progress)


@pytest.mark.parametrize("key", ["", "x" * 256, "with space"])
def test_a_malformed_idempotency_key_is_a_400(env, sources, key):
    with creates_nothing(env.server):
        r = env.user.request("POST", "/clone-volumes", json=clone_body([sources[0]["id"]]),
                             headers={"Idempotency-Key": key})
    assert_fault(r, 400)
