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
    ├── DatabaseUnavailable       503 serviceUnavailable (the database cannot be reached or used)
    └── BackendError              500 computeFault  (storage failed; translated at the driver boundary)
        ├── CapabilityMissing     400 badRequest   (the backend can't do what was asked)
        └── BackendUnavailable    503 serviceUnavailable (the backend did not start, e.g. its cluster is down)

Lower-level errors (QMP, SQL, subprocess) are translated where they occur
(``raise BackendError(...) from exc``) and never leak past the layer that saw them.
"""

from __future__ import annotations


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


class DatabaseUnavailable(VolcloneError):
    """The database cannot be reached (its server is down, the URL names nothing) or its
    driver is not installed. The CLI prints the message as one line; the API answers 503."""

    status = 503
    fault = "serviceUnavailable"


class BackendError(VolcloneError):
    """The storage backend failed while doing something valid."""


class CapabilityMissing(BackendError):
    """The backend lacks a capability; the service refuses instead of faking it."""

    status = 400
    fault = "badRequest"


class BackendUnavailable(BackendError):
    """The backend is configured but its driver did not start (its cluster was unreachable,
    its bindings are missing); the rest of the service works on."""

    status = 503
    fault = "serviceUnavailable"


class InjectedFailure(VolcloneError):
    """Raised by a failpoint (``VOLCLONE_FAILPOINTS``) to prove a revert path."""


class OverLimit(VolcloneError):
    """413 overLimit: a request passes a size or count limit (a volume's metadata items)."""

    status = 413
    fault = "overLimit"
