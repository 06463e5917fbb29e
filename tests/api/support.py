"""Helpers the API tests share: fault checks, "nothing was created" checks, unique names."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

#: The OpenStack fault name for each status (Cinder's cinder/api/openstack/wsgi.py).
FAULTS = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
          405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest", 413: "overLimit"}


def assert_fault(r: httpx.Response, status: int, contains: str | None = None) -> str:
    """The response is ``status`` with exactly ``{faultName: {"code": status, "message": "..."}}``.

    Returns the message; ``contains`` must appear in it (case-insensitive) when given.
    """
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    name = FAULTS[status]
    assert list(body) == [name], body
    assert set(body[name]) == {"code", "message"}, body
    assert body[name]["code"] == status, body
    message = body[name]["message"]
    assert isinstance(message, str) and message.strip(), body
    if contains is not None:
        assert contains.lower() in message.lower(), message
    return message


def unique(prefix: str = "v") -> str:
    """A volume or type name no other test on the shared server uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def footprint(server: Any) -> dict[str, Any]:
    """What a request could have created: volume rows, clone tasks, groups, flows and pool files."""
    return {
        "volumes": server.db_rows("SELECT id, status, name FROM volumes ORDER BY id"),
        "volume_types": server.db_rows("SELECT id, extra_specs FROM volume_types ORDER BY id"),
        "clone_tasks": server.db_rows("SELECT id FROM clone_tasks ORDER BY id"),
        "volume_groups": server.db_rows("SELECT id FROM volume_groups ORDER BY id"),
        "qos_specs": server.db_rows("SELECT id, consumer, specs FROM qos_specs ORDER BY id"),
        "qos_associations": server.db_rows("SELECT volume_type_id, qos_specs_id FROM qos_type_associations "
                                           "ORDER BY volume_type_id"),
        "logbooks": server.db_rows("SELECT uuid FROM logbooks ORDER BY uuid"),
        "pool_files": server.pool_files(),
    }


@contextlib.contextmanager
def creates_nothing(server: Any) -> Iterator[None]:
    """The block's requests leave no new volume, type, task, group, flow or pool file."""
    before = footprint(server)
    yield
    assert footprint(server) == before


def set_status(server: Any, volume_id: str, status: str) -> None:
    """Put a volume in a state the API offers no way to reach (error, creating, in-use...)."""
    assert server.db_execute("UPDATE volumes SET status = ? WHERE id = ?", status, volume_id) == 1


def clone_body(volumes: list[str], **fields: Any) -> dict[str, Any]:
    """A clone-volumes body; ``fields`` use the spec's hyphenated keys (``**{"display-name": ...}``)."""
    return {"clone-volumes": {"volumes": volumes, **fields}}


def task_id_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(httpx.URL(response.json()["clone-volumes"]["task_uri"]).params["task_id"])
