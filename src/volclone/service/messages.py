"""User messages (Cinder's, microversion 3.3): what failed after a call had already answered,
told to the project it happened to::

    messages = MessageService(Messages(db), ttl_s=2592000)
    messages.record("p1", Resource.VOLUME, vol_id, Action.CREATE_VOLUME_FROM_BACKEND,
                    Detail.DRIVER_FAILED_CREATE)
    messages.page(who, "p1", PageQuery())        # newest first
    messages.reap()                                 # the reaper: those past guaranteed_until go

The codes are Cinder's (``cinder/message/message_field.py``): the event id is
``VOLUME_<resource type>_<action id>_<detail id>``, the text ``"<action>:<detail>"``, the level
``ERROR``. volclone adds two actions of its own, ``clone volumes`` (``901``) and ``revert
volumes`` (``902``, ``clone-volumes/revert``), for a flow that ended ``REVERTED`` or ``FAILURE``;
its resource is the task.
"""

from __future__ import annotations

import builtins
import contextvars
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from volclone.db.messages import Messages
from volclone.db.schema import utcnow
from volclone.domain import PageQuery, Principal, UserMessage
from volclone.errors import NotFound, OverLimit, VolcloneError

log = logging.getLogger(__name__)

LEVEL_ERROR = "ERROR"
#: The id of the API request being served (``x-openstack-request-id``, set by the API for each
#: request): a message written while serving it names it. A flow's thread has none: its message
#: gets an id of its own.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("volclone_request_id", default=None)


def new_request_id() -> str:
    """Cinder's (oslo.context's) form: ``req-<uuid>``."""
    return f"req-{uuid.uuid4()}"


class Resource:
    """Cinder's resource types (and volclone's clone task)."""

    VOLUME = "VOLUME"
    VOLUME_SNAPSHOT = "VOLUME_SNAPSHOT"
    CLONE_TASK = "CLONE_TASK"
    GROUP = "GROUP"


Code = tuple[str, str]


class Action:
    """Cinder's action ids and words, those volclone reports (plus its own ``901``)."""

    SCHEDULE_ALLOCATE_VOLUME: Code = ("001", "schedule allocate volume")
    EXTEND_VOLUME: Code = ("007", "extend volume")
    CREATE_VOLUME_FROM_BACKEND: Code = ("008", "create volume from backend storage")
    SNAPSHOT_CREATE: Code = ("009", "create snapshot")
    CLONE_VOLUMES: Code = ("901", "clone volumes")
    REVERT_VOLUMES: Code = ("902", "revert volumes")
    #: volclone's own, as 901 (Cinder records no message for a failed group create).
    CREATE_GROUP_FROM_SRC: Code = ("903", "create group from source")
    ALL = (SCHEDULE_ALLOCATE_VOLUME, EXTEND_VOLUME, CREATE_VOLUME_FROM_BACKEND, SNAPSHOT_CREATE, CLONE_VOLUMES,
           REVERT_VOLUMES, CREATE_GROUP_FROM_SRC)


class Detail:
    """Cinder's detail ids and words, those volclone reports."""

    UNKNOWN_ERROR: Code = ("001", "An unknown error occurred.")
    NO_BACKEND_AVAILABLE: Code = ("003", "Could not find any available weighted backend.")
    QUOTA_EXCEED: Code = ("006", "Not enough quota resource for operation.")
    DRIVER_FAILED_EXTEND: Code = ("010", "Volume Driver failed to extend volume.")
    DRIVER_FAILED_CREATE: Code = ("012", "Driver failed to create the volume.")
    SNAPSHOT_CREATE_ERROR: Code = ("013", "Snapshot failed to create.")
    ALL = (UNKNOWN_ERROR, NO_BACKEND_AVAILABLE, QUOTA_EXCEED, DRIVER_FAILED_EXTEND, DRIVER_FAILED_CREATE,
           SNAPSHOT_CREATE_ERROR)


def detail_for(exc: BaseException | None, default: Code) -> Code:
    """Cinder's exception-to-detail mapping, as far as volclone's errors go: over a quota is
    ``QUOTA_EXCEED``; anything else the ``default`` the caller names."""
    return Detail.QUOTA_EXCEED if isinstance(exc, OverLimit) else default


def event_id(resource_type: str, action_id: str, detail_id: str) -> str:
    return f"VOLUME_{resource_type}_{action_id}_{detail_id}"


def user_message(message: UserMessage) -> str:
    """Cinder's text: the action's words, a colon, the detail's words."""
    action = next((words for code, words in Action.ALL if code == message.action_id), "unknown action")
    detail = next((words for code, words in Detail.ALL if code == message.detail_id), Detail.UNKNOWN_ERROR[1])
    return f"{action}:{detail}"


class MessageService:
    def __init__(self, repo: Messages, ttl_s: float, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.repo = repo
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.clock = clock

    def record(self, project_id: str, resource_type: str, resource_uuid: str | None, action: Code,
               detail: Code, request_id: str | None = None) -> UserMessage | None:
        """Tell ``project_id`` that ``action`` on the resource failed. Never raises: a message
        that can't be written is logged (the failure it reports is what the caller raises)."""
        now = self.clock()
        message = UserMessage(id=str(uuid.uuid4()), project_id=project_id, resource_type=resource_type,
                              resource_uuid=resource_uuid, action_id=action[0], detail_id=detail[0],
                              event_id=event_id(resource_type, action[0], detail[0]), message_level=LEVEL_ERROR,
                              request_id=request_id or REQUEST_ID.get() or new_request_id(), created_at=now,
                              expires_at=now + self.ttl)
        try:
            self.repo.add(message)
        except Exception:
            log.exception("the user message %s for %s %s could not be recorded", message.event_id, resource_type,
                          resource_uuid)
            return None
        return message

    def get(self, who: Principal, project_id: str, message_id: str) -> UserMessage:
        """The message, if it is the project's (an admin's token sees any, as Cinder's)."""
        message = self.repo.get(message_id)
        if message is None or (message.project_id != project_id and not who.is_admin):
            raise NotFound(f"Message {message_id} could not be found.")
        return message

    def page(self, who: Principal, project_id: str, query: PageQuery) -> builtins.list[UserMessage]:
        """The project's messages (an admin's: every project's, as Cinder lists them) ``query`` selects."""
        scope = None if who.is_admin else project_id
        if query.marker is not None:
            self.get(who, project_id, query.marker)  # 404 for a marker the caller can't see
        return self.repo.page(scope, query)

    def delete(self, who: Principal, project_id: str, message_id: str) -> None:
        self.get(who, project_id, message_id)
        if not self.repo.delete(message_id):
            raise NotFound(f"Message {message_id} could not be found.")

    def reap(self) -> int:
        """Delete the messages past their ``guaranteed_until``; how many went."""
        try:
            return self.repo.delete_expired(self.clock())
        except VolcloneError as exc:
            log.warning("expired user messages could not be removed: %s", exc.message)
            return 0
