"""Per-volume-type quotas through the real clients, against a server of its own:

- python-cinderclient: ``quota-update --volume-type T --volumes N P`` (it sends ``volumes_T``),
  ``quota-show``, ``quota-usage``;
- python-openstackclient: ``quota set --volume-type T --volumes N P`` and ``quota show --volume P``.

``openstack quota set/show PROJECT`` looks the project up in Keystone (``GET /v3/projects/P``),
which these servers have not; the test puts a small stand-in in front of the server that answers
that look-up and passes every other request through, unchanged.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from conftest import make_token

from .test_cli_clients import BIN, run, table
from .test_quota_clients import cinder

PROJECT_LOOKUP = re.compile(r"^/v3/p1/projects(?:/(?P<id>[^/?]+)|\?name=(?P<name>[^&]+))$")


def _front(upstream: str) -> tuple[ThreadingHTTPServer, str]:
    """A Keystone project look-up stand-in in front of ``upstream``; everything else is forwarded."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _any(self) -> None:
            found = PROJECT_LOOKUP.match(self.path)
            if found and self.command == "GET":
                pid = found["id"] or found["name"]
                project = {"id": pid, "name": pid, "domain_id": "default", "enabled": True, "is_domain": False}
                body = {"project": project} if found["id"] else {"projects": [project]}
                self._answer(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            r = httpx.request(self.command, upstream + self.path, headers=headers,
                              content=self.rfile.read(length) if length else None, timeout=60)
            self._answer(r.status_code, r.content,
                         {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "openstack-api-version",
                                                                              "x-openstack-request-id")})

        do_GET = do_PUT = do_POST = do_DELETE = _any

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def own(make_env) -> Iterator[tuple[Any, str]]:
    env = make_env()
    front, url = _front(env.server.url)
    yield env, url
    front.shutdown()
    front.server_close()


def _openstack(env, url: str, *args: str):
    return run([str(BIN / "openstack"), "--os-auth-type", "admin_token", "--os-endpoint", f"{url}/v3/p1",
                "--os-token", env.admin_token, "--os-volume-api-version", "3", *args])


def test_per_type_quotas_set_shown_and_enforced_by_cinder_and_openstack(own):
    env, url = own
    gold = f"gold{uuid.uuid4().hex[:6]}"
    env.admin.ok("POST", "/types", json={"volume_type": {"name": gold}})
    p_cinder, p_osc = f"tq-{uuid.uuid4().hex[:8]}", f"tq-{uuid.uuid4().hex[:8]}"

    # python-cinderclient
    updated = table(cinder(env, env.admin_token, "quota-update", "--volume-type", gold, "--volumes", "1",
                           p_cinder).stdout)
    assert updated[f"volumes_{gold}"] == "1" and updated["volumes"] == "-1"
    shown = table(cinder(env, env.admin_token, "quota-show", p_cinder).stdout)
    assert (shown[f"volumes_{gold}"], shown[f"gigabytes_{gold}"], shown["volumes___DEFAULT__"]) == ("1", "-1", "-1")

    # python-openstackclient (the project look-up answered by the stand-in)
    _openstack(env, url, "quota", "set", "--volume-type", gold, "--volumes", "1", "--gigabytes", "5", p_osc)
    osc = json.loads(_openstack(env, url, "quota", "show", "--volume", p_osc, "-f", "json").stdout)
    flat = {r["Resource"]: r["Limit"] for r in osc} if isinstance(osc, list) else osc
    assert (flat[f"volumes_{gold}"], flat[f"gigabytes_{gold}"]) == (1, 5), osc

    for project in (p_cinder, p_osc):
        user = env.server.client(make_token(env.server.data_dir, project), project)
        user.ok("POST", "/volumes", json={"volume": {"size": 1, "volume_type": gold}})
        r = user.request("POST", "/volumes", json={"volume": {"size": 1, "volume_type": gold}})
        assert r.status_code == 413, r.text
        assert r.json()["overLimit"]["message"] == \
            f"VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes_{gold}'."
        assert [v["volume_type"] for v in user.ok("GET", "/volumes/detail")["volumes"]] == [gold]  # nothing made
        user.ok("POST", "/volumes", json={"volume": {"size": 1}})  # another type: not limited
    rows = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip().strip("|").split("|")]
                                              for line in cinder(env, env.admin_token, "quota-usage",
                                                                 p_cinder).stdout.splitlines()
                                              if line.startswith("| "))}
    assert rows[f"volumes_{gold}"] == ["1", "0", "1", "0"]  # In_use, Reserved, Limit, Allocated
