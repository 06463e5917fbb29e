"""The one exception hierarchy of volclone.

Every error a user can cause or see is a :class:`VolcloneError`; each class knows
its HTTP status and the OpenStack fault name the API puts in the body::

    VolcloneError                 500 computeFault
    ├── BadRequest                400 badRequest
    │   └── InvalidVolume         400 badRequest   (a volume in the wrong state)
    ├── Unauthorized              401 unauthorized
    ├── Forbidden                 403 forbidden
    ├── NotFound                  404 itemNotFound
    ├── Conflict                  409 conflictingRequest
    │   └── Busy                  409 conflictingRequest (another operation holds its lock: try again)
    ├── Cancelled                 (never an answer: a clone task stops on its project's request and reverts)
    ├── IdentityUnavailable       503 serviceUnavailable (Keystone can't validate tokens right now)
    ├── DatabaseUnavailable       503 serviceUnavailable (the database cannot be reached or used)
    ├── CoordinationUnavailable   503 serviceUnavailable (the coordination backend, Redis, can't be reached)
    └── BackendError              500 computeFault  (storage failed; translated at the driver boundary)
        ├── CapabilityMissing     400 badRequest   (the backend can't do what was asked)
        ├── InsufficientStorage   507 insufficientStorage (the backend's storage is full)
        └── BackendUnavailable    503 serviceUnavailable (the backend did not start, e.g. its cluster is down)

Lower-level errors (QMP, SQL, subprocess) are translated where they occur
(``raise BackendError(...) from exc``) and never leak past the layer that saw them.
A :class:`BackendError`'s message reaches tenants (API faults, get_progress), so it
names no server path: absolute paths in it are cut to their last part.
"""

from __future__ import annotations

import re

#: An absolute path (not the path of a URL such as ``nbd://host:port/name``).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/'\"`:,;()\[\]]+/)+([^\s/'\"`:,;()\[\]]*)")


def without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part (``/var/lib/x/pool/a.qcow2`` -> ``a.qcow2``)."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1), text)


class VolcloneError(Exception):
    status = 500
    fault = "computeFault"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(VolcloneError):
    status = 400
    fault = "badRequest"


class InvalidVolume(BadRequest):
    """A volume exists but its state forbids the operation."""


class Unauthorized(VolcloneError):
    status = 401
    fault = "unauthorized"


class Forbidden(VolcloneError):
    status = 403
    fault = "forbidden"


class NotFound(VolcloneError):
    status = 404
    fault = "itemNotFound"


class Conflict(VolcloneError):
    status = 409
    fault = "conflictingRequest"


class Busy(Conflict):
    """Another operation holds the lock of what the request acts on (a volume, across workers);
    it did not free within the wait. Nothing was changed; the caller may try again."""


class IdentityUnavailable(VolcloneError):
    """Keystone could not be asked whether a token is valid (unreachable, failing, or it refused
    volclone's own service credentials). The request is refused, never let through."""

    status = 503
    fault = "serviceUnavailable"


class DatabaseUnavailable(VolcloneError):
    """The database cannot be reached (its server is down, the URL names nothing) or its
    driver is not installed. The CLI prints the message as one line; the API answers 503."""

    status = 503
    fault = "serviceUnavailable"


class CoordinationUnavailable(VolcloneError):
    """The coordination backend (tooz on Redis: membership and locks) cannot be reached, so no
    lock could be taken or no member list read. The request is refused, never run unlocked."""

    status = 503
    fault = "serviceUnavailable"


class BackendError(VolcloneError):
    """The storage backend failed while doing something valid. Its message names no server path."""

    def __init__(self, message: str) -> None:
        super().__init__(without_paths(message))


class CapabilityMissing(BackendError):
    """The backend lacks a capability; the service refuses instead of faking it."""

    status = 400
    fault = "badRequest"


class InsufficientStorage(BackendError):
    """The backend has no room for what was asked (its filesystem or pool is full).
    Nothing was made; deleting volumes makes room."""

    status = 507
    fault = "insufficientStorage"


class BackendUnavailable(BackendError):
    """The backend is configured but its driver did not start (its cluster was unreachable,
    its bindings are missing); the rest of the service works on."""

    status = 503
    fault = "serviceUnavailable"


class Cancelled(VolcloneError):
    """A clone task was cancelled (``POST .../clone-volumes/{task_id}/action {"cancel": {}}``):
    raised in the flow's tasks and through the copy loops' progress callbacks, so the flow
    stops and reverts. Its message is get_progress's ``results.failure``."""

    def __init__(self, message: str = "the clone task was cancelled on request") -> None:
        super().__init__(message)


class InjectedFailure(VolcloneError):
    """Raised by a failpoint (``VOLCLONE_FAILPOINTS``) to prove a revert path."""


class OverLimit(VolcloneError):
    """413 overLimit: a request passes a size or count limit (a volume's metadata items)."""

    status = 413
    fault = "overLimit"


class RevertIncomplete(VolcloneError):
    """A clone flow's revert undid all it could but left items behind (recorded as leftovers
    and retried until they are gone); the flow ends FAILURE with this message."""
