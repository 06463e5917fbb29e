"""Quota classes, as Cinder's ``os-quota-class-sets`` (admins): named sets of limits. The
``default`` class is what every project without a limit of its own falls back to, over the
configured defaults (``VOLCLONE_QUOTA_<NAME>``), so an update of it changes those projects'
limits at once::

    classes = QuotaClassService(QuotaClasses(db), quotas)
    classes.show("default")                       # every key: set, else the default limit
    classes.update("default", {"volumes": 20})    # 400 for an unknown key or a bad value

A class has Cinder's seven resources and, per volume type, ``volumes_<type>``, ``gigabytes_<type>``
and ``snapshots_<type>``, enforced for every project without a per-type limit of its own
(:mod:`volclone.service.quotas`). A class other than ``default`` is kept and shown; no project
uses it (volclone's projects have no quota class, as Keystone's have none).
"""

from __future__ import annotations

from collections.abc import Mapping

from volclone.db.quota_classes import QuotaClasses
from volclone.db.quotas import DEFAULT_CLASS
from volclone.errors import BadRequest
from volclone.service.quotas import MAX_LIMIT, UNLIMITED, QuotaService

#: The longest class name (Cinder's column).
MAX_NAME = 255
#: Keys of an update body that name the class rather than set a limit (python-cinderclient sends
#: ``class_name``); ignored, as Cinder ignores them.
NAMING_KEYS = frozenset({"class_name", "id"})


def _check_name(class_name: str) -> None:
    if not class_name or len(class_name) > MAX_NAME:
        raise BadRequest(f"Invalid input received: a quota class name has 1 to {MAX_NAME} characters")


def _limit(resource: str, value: object) -> int:
    """Cinder's ``validate_integer``: an integer (or a string of one) from -1 to MAX_INT."""
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input received: {resource} must be an integer, not {value!r}")
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None:
        raise BadRequest(f"Invalid input received: {resource} must be an integer, not {value!r}")
    if number < UNLIMITED or number > MAX_LIMIT:
        raise BadRequest(f"Invalid input received: {resource} must be from {UNLIMITED} (unlimited) to "
                         f"{MAX_LIMIT}, not {number}")
    return number


class QuotaClassService:
    def __init__(self, classes: QuotaClasses, quotas: QuotaService) -> None:
        self.classes = classes
        self.quotas = quotas

    def show(self, class_name: str) -> dict[str, int]:
        """Every key of the class: its own limit, else the default (Cinder's ``get_class_quotas``)."""
        _check_name(class_name)
        defaults = self.quotas.default_limits()
        own = self.classes.limits(class_name) if class_name != DEFAULT_CLASS else defaults
        return {k: own.get(k, defaults[k]) for k in defaults}

    def update(self, class_name: str, values: Mapping[str, object]) -> dict[str, int]:
        """Set some limits of the class; nothing is set unless every key and value is good."""
        _check_name(class_name)
        values = {k: v for k, v in values.items() if k not in NAMING_KEYS}
        keys = set(self.quotas.keys())
        bad = sorted(k for k in values if k not in keys)
        if bad:
            raise BadRequest(f"Invalid input received: Bad key(s) in quota class set: {', '.join(bad)}")
        limits = {k: _limit(k, v) for k, v in values.items()}
        self.classes.set(class_name, limits)
        return self.show(class_name)
