"""An HTTP client for the volclone API; the CLI uses it and it works as a small Python SDK.

    >>> from volclone.client import Client
    >>> with Client("http://127.0.0.1:8776", token, "p1") as c:        # doctest: +SKIP
    ...     a = c.create_volume(1, name="a")
    ...     b = c.create_volume(1, name="b")
    ...     task_id = c.clone([a["id"], b["id"]], name="demo")
    ...     final = c.watch(task_id, on_progress=lambda p: print(p["progress"]))
    ...     final["details"]["results"]                                 # source id -> clone id

``watch`` follows the task's Server-Sent Events (get_progress with ``Accept: text/event-stream``,
docs/events.md); against a server that answers without a stream it polls, as ``wait`` does.

Every failure is a :class:`ClientError`: an error answer from the server carries its
HTTP status and OpenStack fault name; a server that can't be reached gives one whose
message names the URL. httpx's own exceptions never leak out of this module.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from volclone import __version__

DEFAULT_URL = "http://127.0.0.1:8776"
TOKEN_HEADER = "X-Auth-Token"
CLONE_ACTION = "clone-volumes"
#: get_progress's action for a revert in place's task.
REVERT_ACTION = "clone-volumes-revert"
#: The header that makes a clone request safe to send again (a volclone extension).
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: How often :meth:`Client.clone` sends its request again when the answer was lost, and the
#: answers it takes for lost (a proxy's or a server's that is restarting).
CLONE_RETRIES = 3
RETRIED_STATUSES = frozenset({502, 503, 504})
RETRY_BACKOFF_S = 0.5
#: Flow states after which a clone task changes no more.
FINAL_STATES = frozenset({"SUCCESS", "REVERTED", "FAILURE"})
#: The attachments API needs microversion 3.27; the body's ``mode`` is read from 3.54.
ATTACHMENTS_VERSION = {"OpenStack-API-Version": "volume 3.54"}

EVENT_STREAM = "text/event-stream"

ProgressBody = dict[str, Any]


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``name`` (``flow``, ``state``, ``progress``, ``end``, ``error``), its
    decoded JSON ``data`` and its ``id``."""

    name: str
    data: Any
    id: str | None


def parse_events(lines: Iterator[str]) -> Iterator[Event]:
    """The events of a ``text/event-stream`` body, line by line (comments, the keep-alives, are skipped).

        >>> [e.data for e in parse_events(iter([": ping", "event: end", 'data: {"a": 1}', "id: end", ""]))]
        [{'a': 1}]
    """
    name, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield Event(name, json.loads("\n".join(data)), event_id)
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            name = value
        elif key == "data":
            data.append(value)
        elif key == "id":
            event_id = value


class ProgressView:
    """A get_progress-shaped body kept up to date from a stream's events (what a progress bar
    reads: ``progress``, ``flow_details``, ``pending_tasks``, ``details``' bytes)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.flow: dict[str, str] = {}
        self.steps: dict[str, str] = {}
        self.numbers: dict[str, Any] = {"progress": 0}

    def apply(self, event: Event) -> None:
        if event.name == "flow":
            self.flow = {str(event.data["flow"]): str(event.data["state"])}
        elif event.name == "state":
            self.steps[str(event.data["task"])] = str(event.data["state"])
        elif event.name == "progress":
            self.numbers = dict(event.data)

    @property
    def body(self) -> ProgressBody:
        pending = {n: s for n, s in self.steps.items() if s not in FINAL_STATES | {"REVERTED"}}
        details = {k: v for k, v in self.numbers.items() if k != "progress"}
        return {"task_id": self.task_id, "progress": self.numbers.get("progress", 0),
                "flow_details": dict(self.flow), "pending_tasks": pending,
                "details": {**details, "progress": self.numbers.get("progress", 0), "pending_tasks": pending,
                            "flow_details": dict(self.flow)}}


class ClientError(Exception):
    """A request failed.

    ``status`` and ``fault`` are the HTTP status and the OpenStack fault name
    (``itemNotFound``) when the server answered; both are ``None`` when it
    could not be reached or the failure was found on this side.

        >>> str(ClientError("volume x could not be found", 404, "itemNotFound"))
        'HTTP 404 itemNotFound: volume x could not be found'
    """

    def __init__(self, message: str, status: int | None = None, fault: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fault = fault

    def __str__(self) -> str:
        if self.status is None:
            return self.message
        return f"HTTP {self.status} {self.fault}: {self.message}"


def flow_state(progress: Mapping[str, Any]) -> str:
    """The state of a clone task's flow, from a get_progress answer.

        >>> flow_state({"flow_details": {"cloneFlow": "SUCCESS"}})
        'SUCCESS'
    """
    details = progress.get("flow_details") or progress.get("details", {}).get("flow_details") or {}
    return str(next(iter(details.values()), "PENDING"))


def task_id_from_uri(task_uri: str) -> str:
    """The task id a clone-volumes ``task_uri`` points at.

        >>> task_id_from_uri("http://h/v3/p1/clone-volumes/get_progress?action=clone-volumes&task_id=84a0")
        '84a0'
    """
    try:
        task_id = httpx.URL(task_uri).params.get("task_id")
    except httpx.InvalidURL:
        task_id = None
    if not task_id:
        raise ClientError(f"the server's task_uri has no task_id: {task_uri!r}")
    return str(task_id)


def _fault_of(body: Any, status: int) -> ClientError | None:
    """A fault body, ``{"itemNotFound": {"code": 404, "message": "..."}}``, as a :class:`ClientError`
    with ``status`` (None: not a fault body)."""
    if isinstance(body, dict) and len(body) == 1:
        name, inner = next(iter(body.items()))
        if isinstance(inner, dict) and "message" in inner:
            return ClientError(str(inner["message"]), status, name)
    return None


def _code_of(body: Any) -> int:
    """The status a fault body names (``{"itemNotFound": {"code": 404, ...}}``), 500 if none."""
    inner = next(iter(body.values()), None) if isinstance(body, dict) else None
    code = inner.get("code") if isinstance(inner, dict) else None
    return code if isinstance(code, int) else 500


def _fault(response: httpx.Response) -> ClientError:
    """Translate an error answer: ``{"itemNotFound": {"code": 404, "message": "..."}}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    fault = _fault_of(body, response.status_code)
    if fault is not None:
        return fault
    text = response.text.strip() or response.reason_phrase
    return ClientError(text, response.status_code, response.reason_phrase or "error")


class Client:
    """The API of one project at ``url``, acting with ``token``.

    ``transport`` is the seam for tests (e.g. ``httpx.MockTransport``).
    """

    def __init__(self, url: str, token: str | None, project: str, *,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        if not project:
            raise ClientError("no project given: the API's paths are /v3/<project_id>/...")
        self.url = url.rstrip("/")
        self.project = project
        headers = {"User-Agent": f"volclone-client/{__version__}", "Accept": "application/json"}
        if token:
            headers[TOKEN_HEADER] = token
        try:
            self._http = httpx.Client(base_url=f"{self.url}/v3/{project}", headers=headers, timeout=timeout,
                                      transport=transport)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ClientError(f"invalid URL {url!r}: {exc}") from exc

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the one place requests are made --------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; the decoded JSON body (``None`` if empty), or a :class:`ClientError`."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ClientError(f"volclone at {self.url} did not answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ClientError(f"cannot connect to volclone at {self.url}: {exc or type(exc).__name__}") from exc
        except httpx.InvalidURL as exc:
            raise ClientError(f"invalid URL {self.url!r}: {exc}") from exc
        if not response.is_success:
            raise _fault(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"{method} {response.url} answered {response.status_code} with a body that "
                              f"is not JSON") from exc

    # -- volumes --------------------------------------------------------------
    def create_volume(self, size: int, name: str | None = None, description: str | None = None,
                      volume_type: str | None = None, metadata: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Create a volume of ``size`` GiB; ``volume_type`` is a type's name or id.

            >>> client.create_volume(1, name="db", metadata={"tier": "gold"})["status"]   # doctest: +SKIP
            'available'
        """
        body: dict[str, Any] = {"size": size}
        body.update(_present(name=name, description=description, volume_type=volume_type))
        if metadata:
            body["metadata"] = dict(metadata)
        return self.request("POST", "/volumes", json={"volume": body})["volume"]  # type: ignore[no-any-return]

    def list_volumes(self, detail: bool = True) -> list[dict[str, Any]]:
        """The project's volumes: full records, or only id/name/links with ``detail=False``.
        A list comes in pages of at most 1,000 (Cinder's): each page's ``next`` link is followed."""
        body = self.request("GET", "/volumes/detail" if detail else "/volumes")
        volumes: list[dict[str, Any]] = list(body["volumes"])
        while True:
            following = [link["href"] for link in body.get("volumes_links", []) if link.get("rel") == "next"]
            if not following or not body["volumes"]:
                return volumes
            body = self.request("GET", following[0])
            volumes += body["volumes"]

    def get_volume(self, volume_id: str) -> dict[str, Any]:
        return self.request("GET", f"/volumes/{volume_id}")["volume"]  # type: ignore[no-any-return]

    def delete_volume(self, volume_id: str) -> None:
        self.request("DELETE", f"/volumes/{volume_id}")

    # -- volume types ---------------------------------------------------------
    def create_type(self, name: str, description: str | None = None,
                    extra_specs: Mapping[str, str] | None = None, is_public: bool = True) -> dict[str, Any]:
        """Create a volume type (admin only).

            >>> admin.create_type("fast", extra_specs={"volume_backend_name": "local"})   # doctest: +SKIP
        """
        body: dict[str, Any] = {"name": name, "os-volume-type-access:is_public": is_public}
        body.update(_present(description=description))
        if extra_specs:
            body["extra_specs"] = dict(extra_specs)
        return self.request("POST", "/types", json={"volume_type": body})["volume_type"]  # type: ignore[no-any-return]

    def list_types(self) -> list[dict[str, Any]]:
        """Every type the caller can see: ``is_public=none`` makes an admin's list hold the private
        types too (Cinder lists admins only the public ones by default); others' lists ignore it."""
        return self.request("GET", "/types", params={"is_public": "none"})["volume_types"]  # type: ignore[no-any-return]

    def find_type(self, name_or_id: str) -> dict[str, Any]:
        """The volume type with this id, or else with this name."""
        types = self.list_types()
        for key in ("id", "name"):
            for vtype in types:
                if vtype.get(key) == name_or_id:
                    return vtype
        raise ClientError(f"no volume type has the name or id {name_or_id!r}")

    # -- clone-volumes --------------------------------------------------------
    def clone(self, volume_ids: list[str], name: str | None = None, description: str | None = None,
              target_type: str | None = None, idempotency_key: str | None = None,
              retries: int = CLONE_RETRIES) -> str:
        """Start a consistent clone of ``volume_ids``; returns the task id.

        ``target_type`` is a volume type's name or id (the API wants an id). The request carries
        an ``Idempotency-Key`` (``idempotency_key``, or a new one), so when its answer is lost (no
        connection, a timeout, a 502/503/504) it is sent again, up to ``retries`` times: the server
        answers a retry with the first request's task and makes no second set.

            >>> task_id = client.clone([a, b], name="demo")      # clones named clone-demo-1, -2  # doctest: +SKIP
        """
        body = self._clone_body(volume_ids, name, description, target_type)
        headers = {IDEMPOTENCY_HEADER: idempotency_key or str(uuid.uuid4())}
        for attempt in range(retries + 1):
            try:
                answer = self.request("POST", "/clone-volumes", json=body, headers=headers)
                return task_id_from_uri(str(answer["clone-volumes"]["task_uri"]))
            except ClientError as exc:
                if attempt == retries or (exc.status is not None and exc.status not in RETRIED_STATUSES):
                    raise
            time.sleep(min(RETRY_BACKOFF_S * 2 ** attempt, 5.0))
        raise AssertionError("unreachable")  # the loop returns or raises

    def plan_clone(self, volume_ids: list[str], name: str | None = None, description: str | None = None,
                   target_type: str | None = None) -> dict[str, Any]:
        """What :meth:`clone` with the same arguments would make, and how; makes nothing (a dry
        run: the same errors as the real request). The plan: ``backend``, ``consistency_method``,
        ``clones`` (in request order: name, type, method, bytes_to_copy, estimate) and ``totals``.

            >>> plan = client.plan_clone([a, b], name="demo")         # doctest: +SKIP
            >>> [c["method"] for c in plan["clones"]]                   # doctest: +SKIP
            ['linked', 'full']
        """
        body = self._clone_body(volume_ids, name, description, target_type)
        answer = self.request("POST", "/clone-volumes", params={"dry_run": "true"}, json=body)
        return dict(answer["clone-volumes"]["plan"])

    def _clone_body(self, volume_ids: list[str], name: str | None, description: str | None,
                    target_type: str | None) -> dict[str, Any]:
        target_id = self.find_type(target_type)["id"] if target_type else None
        body: dict[str, Any] = {"volumes": list(volume_ids)}
        body.update(_present(**{"display-name": name, "description": description,
                                "target-volume-type-id": target_id}))
        return {"clone-volumes": body}

    def revert(self, clone_task_id: str) -> str:
        """Put the sources of a SUCCESS clone task back to its clones' data, in place; returns the
        revert's task id (follow it with ``wait(task_id, action=REVERT_ACTION)``).

            >>> rid = client.revert(task_id)                               # doctest: +SKIP
            >>> flow_state(client.wait(rid, action=REVERT_ACTION))         # doctest: +SKIP
            'SUCCESS'
        """
        answer = self.request("POST", "/clone-volumes/revert", json={"revert": {"task_id": clone_task_id}})
        return task_id_from_uri(str(answer["revert"]["task_uri"]))

    def progress(self, task_id: str, action: str = CLONE_ACTION) -> ProgressBody:
        """get_progress of a clone task (or, with ``action=REVERT_ACTION``, of a revert's): progress,
        flow_details, pending_tasks, details{results, ...}."""
        params = {"action": action, "task_id": task_id}
        return self.request("GET", "/clone-volumes/get_progress", params=params)  # type: ignore[no-any-return]

    def cancel(self, task_id: str) -> None:
        """Ask a clone task to stop and revert (202); it then ends REVERTED, its failure saying it
        was cancelled. A task that has ended or is reverting: a 409 :class:`ClientError`."""
        self.request("POST", f"/clone-volumes/{task_id}/action", json={"cancel": {}})

    def wait(self, task_id: str, poll: float = 0.5, on_progress: Callable[[ProgressBody], None] | None = None,
             timeout: float | None = None, action: str = CLONE_ACTION) -> ProgressBody:
        """Poll until the clone task ends; returns the last progress (check its flow state).

            >>> final = client.wait(task_id, on_progress=lambda p: print(p["progress"]))  # doctest: +SKIP
            >>> flow_state(final)                                                          # doctest: +SKIP
            'SUCCESS'
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            progress = self.progress(task_id, action)
            if on_progress is not None:
                on_progress(progress)
            if flow_state(progress) in FINAL_STATES:
                return progress
            if deadline is not None and time.monotonic() >= deadline:
                raise ClientError(f"clone task {task_id} did not end in {timeout:g}s; "
                                  f"it is {flow_state(progress)} at {progress.get('progress')}%")
            time.sleep(poll)

    def events(self, task_id: str, action: str = CLONE_ACTION) -> Iterator[Event]:
        """The clone task's events as the server sends them, until its ``end`` event (whose data
        is the final get_progress body). An ``error`` event is raised as a :class:`ClientError`.
        A server that answers without a stream (one older than the events) gives the plain
        body as one ``end`` event if the task has ended, else nothing: poll it then.
        """
        params = {"action": action, "task_id": task_id}
        try:
            with self._http.stream("GET", "/clone-volumes/get_progress", params=params,
                                   headers={"Accept": EVENT_STREAM}) as response:
                if not response.is_success:
                    response.read()
                    raise _fault(response)
                if not response.headers.get("content-type", "").startswith(EVENT_STREAM):
                    body = json.loads(response.read())
                    if flow_state(body) in FINAL_STATES:
                        yield Event("end", body, None)
                    return
                for event in parse_events(response.iter_lines()):
                    if event.name == "error":
                        raise _fault_of(event.data, _code_of(event.data)) or ClientError(
                            f"the event stream of clone task {task_id} failed: {event.data!r}", 500, "error")
                    yield event
                    if event.name == "end":
                        return
        except httpx.TimeoutException as exc:
            raise ClientError(f"volclone at {self.url} went quiet ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ClientError(f"cannot connect to volclone at {self.url}: {exc or type(exc).__name__}") from exc
        except ValueError as exc:  # JSON that is not
            raise ClientError(f"volclone at {self.url} sent an event that is not JSON") from exc

    def watch(self, task_id: str, on_progress: Callable[[ProgressBody], None] | None = None,
              on_event: Callable[[Event], None] | None = None, timeout: float | None = None,
              action: str = CLONE_ACTION) -> ProgressBody:
        """Follow the clone task's (or, with ``action=REVERT_ACTION``, a revert's) events until it
        ends; returns its final get_progress body.

        ``on_progress`` gets a get_progress-shaped body after each event (what a bar shows),
        ``on_event`` each event. A stream that stops before the end (the server restarted,
        or answers without one) is followed by polling, as :meth:`wait` does.

            >>> final = client.watch(task_id, on_progress=lambda p: print(p["progress"]))  # doctest: +SKIP
        """
        view = ProgressView(task_id)
        try:
            for event in self.events(task_id, action):
                if on_event is not None:
                    on_event(event)
                if event.name == "end":
                    if on_progress is not None:
                        on_progress(event.data)
                    return event.data  # type: ignore[no-any-return]
                view.apply(event)
                if on_progress is not None:
                    on_progress(view.body)
        except ClientError as exc:
            if exc.status is not None:  # the server's answer (404, 403, ...): polling would get the same
                raise
        return self.wait(task_id, on_progress=on_progress, timeout=timeout, action=action)


    # -- attachments (microversion 3.27; sent at 3.54 for the mode) ----------------
    def attach(self, volume_id: str, mode: str = "rw", instance: str | None = None,
               connector: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Attach a volume and complete the attachment (the volume is ``in-use``); the attachment.

        ``connector`` describes this consumer (default: this host's name).

            >>> a = client.attach(vol_id, mode="ro")                       # doctest: +SKIP
            >>> a["connection_info"]["data"]["uri"]                        # doctest: +SKIP
            'nbd://127.0.0.1:10809/0b3c...'
        """
        body: dict[str, Any] = {"volume_uuid": volume_id, "mode": mode,
                                "connector": dict(connector or {"host": socket.gethostname()})}
        body.update(_present(instance_uuid=instance))
        made = self.request("POST", "/attachments", json={"attachment": body}, headers=ATTACHMENTS_VERSION)
        attachment_id = made["attachment"]["id"]
        try:
            done = self.request("PUT", f"/attachments/{attachment_id}", json={"attachment": {}},
                                headers=ATTACHMENTS_VERSION)
        except ClientError:
            self.detach(attachment_id)
            raise
        return done["attachment"]  # type: ignore[no-any-return]

    def detach(self, attachment_id: str) -> list[dict[str, Any]]:
        """Delete an attachment; returns the volume's attachments that are left."""
        answer = self.request("DELETE", f"/attachments/{attachment_id}", headers=ATTACHMENTS_VERSION)
        return answer["attachments"]  # type: ignore[no-any-return]


    def flatten(self, volume_id: str) -> None:
        """Make a volume independent of layers it shares with its source (``os-flatten``)."""
        self.request("POST", f"/volumes/{volume_id}/action", json={"os-flatten": {}})


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are not ``None`` (the API treats absent and null alike, absent is clearer)."""
    return {k: v for k, v in fields.items() if v is not None}
