"""Size limits: the request body (1 MiB by default, ``VOLCLONE_MAX_REQUEST_BYTES``) and every
free-text field, capped as Cinder caps them. Over a cap: a 400 or 413 fault, and nothing stored."""

from __future__ import annotations

import socket
import time

import pytest

from .support import assert_fault, creates_nothing, unique

MIB = 1024 * 1024
VOL = "3f0e1c1e-0000-4000-8000-0000000000aa"


def long_body(size: int) -> bytes:
    """A valid volume-create body of exactly ``size`` bytes (its description pads it)."""
    head, tail = b'{"volume": {"size": 1, "description": "', b'"}}'
    return head + b"d" * (size - len(head) - len(tail)) + tail


def chunks(body: bytes, size: int = 64 * 1024):
    for i in range(0, len(body), size):
        yield body[i:i + size]


@pytest.mark.parametrize("method, path", [("POST", "/volumes"), ("PUT", f"/volumes/{VOL}"),
                                          ("POST", "/types"), ("POST", "/clone-volumes"),
                                          ("POST", "/attachments"), ("POST", f"/volumes/{VOL}/action")])
def test_a_body_over_a_mib_is_413(env, method, path):
    with creates_nothing(env.server):
        r = env.admin.request(method, path, content=long_body(MIB + 1), headers={"Content-Type": "application/json"})
        assert_fault(r, 413, "larger than 1048576 bytes")


def test_a_streamed_body_without_a_length_is_counted(env):
    """A chunked body declares no length: it is refused once it passes the cap."""
    with creates_nothing(env.server):
        r = env.user.request("POST", "/volumes", content=chunks(long_body(3 * MIB)),
                             headers={"Content-Type": "application/json"})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        assert_fault(r, 413, "larger than")


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_sent(env):
    """The server answers 413 on the headers alone: it does not wait for (or read) the 2 GiB."""
    with socket.create_connection(("127.0.0.1", env.server.port), timeout=30) as sock:
        sock.sendall(b"POST /v3/p1/volumes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Auth-Token: " + env.user_token.encode() + b"\r\nContent-Length: 2147483648\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            assert data, answer
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_a_body_just_under_the_cap_is_read(env):
    """1 MiB exactly is allowed; this one is a 400 for its long description, not a 413."""
    r = env.user.request("POST", "/volumes", content=long_body(MIB), headers={"Content-Type": "application/json"})
    assert_fault(r, 400, "description")


def test_the_cap_is_configurable(make_env):
    e = make_env(VOLCLONE_MAX_REQUEST_BYTES="300")
    with creates_nothing(e.server):
        assert_fault(e.user.request("POST", "/volumes", content=long_body(301),
                                    headers={"Content-Type": "application/json"}), 413, "larger than 300 bytes")
    r = e.user.request("POST", "/volumes", content=long_body(120), headers={"Content-Type": "application/json"})
    assert r.status_code == 202, r.text


def test_an_unparsable_content_length_is_400(env):
    with socket.create_connection(("127.0.0.1", env.server.port), timeout=30) as sock:
        sock.sendall(b"POST /v3/p1/volumes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Auth-Token: " + env.user_token.encode() + b"\r\nContent-Length: " + b"9" * 5000 +
                     b"\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.split(b" ")[1].startswith(b"4"), answer  # uvicorn (or we) refuse it; never a 500


# -- free-text fields ---------------------------------------------------------
LONG = "x" * 256
MAX = "x" * 255
MANY = {f"k{i}": "v" for i in range(129)}


@pytest.fixture
def vol(env):
    v = env.user.create_volume(1, unique(), metadata={"k": "v"})
    yield v
    env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("volume, says", [
    ({"name": LONG}, "name"),
    ({"display_name": LONG}, "display_name"),
    ({"description": LONG}, "description"),
    ({"display_description": LONG}, "display_description"),
    ({"metadata": {LONG: "v"}}, "metadata"),
    ({"metadata": {"k": LONG}}, "metadata"),
    ({"metadata": {"": "v"}}, "metadata"),
    ({"metadata": MANY}, "metadata"),
    ({"volume_type": LONG}, "volume_type"),
    ({"availability_zone": LONG}, "availability_zone"),
])
def test_volume_create_caps_free_text(env, volume, says):
    with creates_nothing(env.server):
        assert_fault(env.user.request("POST", "/volumes", json={"volume": {"size": 1, **volume}}), 400, says)


def test_volume_create_at_the_caps_is_accepted(env):
    meta = {f"{i:03d}" + "k" * 252: "v" * 255 for i in range(128)}
    v = env.user.create_volume(1, MAX, description=MAX, metadata=meta)
    try:
        assert (v["name"], v["description"], v["metadata"]) == (MAX, MAX, meta)
    finally:
        env.user.ok("DELETE", f"/volumes/{v['id']}")


@pytest.mark.parametrize("volume", [{"name": LONG}, {"display_name": LONG}, {"description": LONG},
                                    {"display_description": LONG}, {"metadata": {"k": LONG}}, {"metadata": MANY}])
def test_volume_update_caps_free_text(env, vol, volume):
    assert_fault(env.user.request("PUT", f"/volumes/{vol['id']}", json={"volume": volume}), 400)
    shown = env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]
    assert (shown["name"], shown["description"], shown["metadata"]) == (vol["name"], None, {"k": "v"})


@pytest.mark.parametrize("method, sub, body", [
    ("POST", "", {"metadata": {LONG: "v"}}), ("POST", "", {"metadata": {"k2": LONG}}), ("POST", "", {"metadata": MANY}),
    ("PUT", "", {"metadata": {LONG: "v"}}), ("PUT", "", {"metadata": MANY}),
    ("PUT", "/k", {"meta": {"k": LONG}}),
])
def test_metadata_caps(env, vol, method, sub, body):
    assert_fault(env.user.request(method, f"/volumes/{vol['id']}/metadata{sub}", json=body), 400, "metadata" if
                 "metadata" in body else "meta")
    assert env.user.ok("GET", f"/volumes/{vol['id']}/metadata") == {"metadata": {"k": "v"}}


def test_metadata_that_would_pass_128_items_is_413(env, vol):
    path = f"/volumes/{vol['id']}/metadata"
    full = {f"k{i}": "v" for i in range(127)}
    env.user.ok("POST", path, json={"metadata": full})  # 127 new + "k": 128 items
    assert_fault(env.user.request("POST", path, json={"metadata": {"one-more": "v"}}), 413, "128")
    assert_fault(env.user.request("PUT", f"{path}/one-more", json={"meta": {"one-more": "v"}}), 413, "128")
    assert len(env.user.ok("GET", path)["metadata"]) == 128
    env.user.ok("POST", path, json={"metadata": {"k1": "changed"}})  # a change that adds nothing is fine


@pytest.mark.parametrize("volume_type, says", [
    ({"name": LONG}, "name"),
    ({"name": "t", "description": LONG}, "description"),
    ({"name": "t", "extra_specs": {LONG: "v"}}, "extra_specs"),
    ({"name": "t", "extra_specs": {"k": LONG}}, "extra_specs"),
    ({"name": "t", "extra_specs": MANY}, "extra_specs"),
])
def test_type_create_caps_free_text(env, volume_type, says):
    with creates_nothing(env.server):
        assert_fault(env.admin.request("POST", "/types", json={"volume_type": volume_type}), 400, says)


def test_extra_specs_caps(env):
    t = env.admin.ok("POST", "/types", json={"volume_type": {"name": unique("type")}})["volume_type"]
    base = f"/types/{t['id']}/extra_specs"
    try:
        with creates_nothing(env.server):
            assert_fault(env.admin.request("POST", base, json={"extra_specs": {LONG: "v"}}), 400, "extra_specs")
            assert_fault(env.admin.request("POST", base, json={"extra_specs": {"k": LONG}}), 400, "extra_specs")
            assert_fault(env.admin.request("POST", base, json={"extra_specs": MANY}), 400, "extra_specs")
            assert_fault(env.admin.request("PUT", f"{base}/k", json={"k": LONG}), 400, "255")
            assert_fault(env.admin.request("PUT", f"{base}/{LONG}", json={LONG: "v"}), 400, "255")
        env.admin.ok("POST", base, json={"extra_specs": {f"k{i}": "v" for i in range(128)}})
        with creates_nothing(env.server):
            assert_fault(env.admin.request("PUT", f"{base}/one-more", json={"one-more": "v"}), 413, "128")
    finally:
        env.admin.ok("DELETE", f"/types/{t['id']}")


def test_clone_names_and_descriptions_are_capped(env, vol):
    with creates_nothing(env.server):
        for fields in ({"display-name": LONG}, {"description": LONG}):
            body = {"clone-volumes": {"volumes": [vol["id"]], **fields}}
            assert_fault(env.user.request("POST", "/clone-volumes", json=body), 400,
                         next(iter(fields)))


def test_the_attach_connector_is_capped(env, vol):
    big = {"host": "h1", "wwpns": ["0" * 16] * 2000}  # about 40 KiB as JSON
    v327 = {"OpenStack-API-Version": "volume 3.27"}
    with creates_nothing(env.server):
        r = env.user.request("POST", "/attachments", headers=v327,
                             json={"attachment": {"volume_uuid": vol["id"], "connector": big}})
        assert_fault(r, 400, "connector")
        r = env.user.request("POST", f"/volumes/{vol['id']}/action",
                             json={"os-initialize_connection": {"connector": big}})
        assert_fault(r, 400, "connector")
    assert env.user.ok("GET", "/attachments", headers=v327)["attachments"] == [] or \
        vol["id"] not in {a["volume_id"] for a in env.user.ok("GET", "/attachments", headers=v327)["attachments"]}
    assert env.user.ok("GET", f"/volumes/{vol['id']}")["volume"]["status"] == "available"


def test_an_idle_connection_is_kept_longer_than_the_clients_keep_theirs(env):
    """A client may reuse a connection after 5 s idle (httpx's pool expiry; urllib3 keeps them
    forever): the server must not be closing it then, or that request is lost to a reset."""
    request = (b"GET /v3/p1/volumes HTTP/1.1\r\nHost: x\r\nX-Auth-Token: " + env.user_token.encode() + b"\r\n\r\n")

    def answer(sock: socket.socket) -> bytes:
        """One whole response (its headers, and its body by Content-Length)."""
        got = b""
        while b"\r\n\r\n" not in got:
            data = sock.recv(65536)
            assert data, f"the server closed the connection: {got!r}"
            got += data
        head, _, body = got.partition(b"\r\n\r\n")
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")))
        while len(body) < length:
            data = sock.recv(65536)
            assert data, "the server closed the connection mid-body"
            body += data
        return head

    with socket.create_connection(("127.0.0.1", env.server.port), timeout=30) as sock:
        sock.sendall(request)
        assert answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(6.5)
        sock.sendall(request)
        assert answer(sock).startswith(b"HTTP/1.1 200")
