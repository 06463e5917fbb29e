"""Faults that cut across endpoints: every bad request is a 4xx in the OpenStack fault format."""

from __future__ import annotations

import pytest

from .support import assert_fault, creates_nothing, unique

VOL = "3f0e1c1e-0000-4000-8000-0000000000aa"
TYPE = "3f0e1c1e-0000-4000-8000-0000000000bb"

#: Every endpoint that reads a JSON body.
BODY_ENDPOINTS = [
    ("POST", "/volumes"),
    ("PUT", f"/volumes/{VOL}"),
    ("POST", f"/volumes/{VOL}/metadata"),
    ("PUT", f"/volumes/{VOL}/metadata"),
    ("PUT", f"/volumes/{VOL}/metadata/k"),
    ("POST", "/types"),
    ("POST", f"/types/{TYPE}/extra_specs"),
    ("PUT", f"/types/{TYPE}/extra_specs/k"),
    ("POST", "/clone-volumes"),
]
IDS = [f"{m} {p}" for m, p in BODY_ENDPOINTS]


@pytest.mark.parametrize("content", [b"{not json", b"{\"volume\": ", b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000])
@pytest.mark.parametrize("method, path", BODY_ENDPOINTS, ids=IDS)
def test_malformed_json_is_400(env, method, path, content):
    with creates_nothing(env.server):
        r = env.admin.request(method, path, content=content, headers={"Content-Type": "application/json"})
        assert_fault(r, 400)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
@pytest.mark.parametrize("method, path", BODY_ENDPOINTS, ids=IDS)
def test_a_body_that_is_not_json_is_400(env, method, path, ctype):
    with creates_nothing(env.server):
        r = env.admin.request(method, path, content=b'{"volume": {"size": 1}}', headers={"Content-Type": ctype})
        assert_fault(r, 400, "Content-Type")


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS, ids=IDS)
def test_a_missing_body_is_400(env, method, path):
    with creates_nothing(env.server):
        assert_fault(env.admin.request(method, path), 400)


def test_json_with_a_charset_is_accepted(env):
    r = env.user.request("POST", "/volumes", content=f'{{"volume": {{"size": 1, "name": "{unique()}"}}}}'.encode(),
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 202, r.text
    env.user.ok("DELETE", f"/volumes/{r.json()['volume']['id']}")


@pytest.mark.parametrize("path", ["/nothing", "/volumes/x/nothing", "/types/x/extra_specs/k/more", ""])
def test_unknown_paths_are_404(env, path):
    assert_fault(env.user.request("GET", path), 404)


@pytest.mark.parametrize("method, path", [
    ("PATCH", "/volumes"), ("DELETE", "/volumes"), ("POST", f"/volumes/{VOL}"), ("PATCH", f"/volumes/{VOL}"),
    ("PUT", "/types"), ("DELETE", "/types"), ("PATCH", f"/types/{TYPE}"), ("POST", "/volumes/detail"),
])
def test_wrong_methods_are_405(env, method, path):
    with creates_nothing(env.server):
        assert_fault(env.admin.request(method, path, json={}), 405)


def test_faults_answer_the_microversion_too(env):
    r = env.user.request("GET", f"/volumes/{VOL}", headers={"OpenStack-API-Version": "volume 3.20"})
    assert_fault(r, 404, VOL)
    assert r.headers["OpenStack-API-Version"] == "volume 3.20"
