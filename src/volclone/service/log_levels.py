"""This process's log levels, read and set while it runs (Cinder's 3.32 ``set-log``/``get-log``)::

    levels("volclone.flows")            # {"volclone.flows": "INFO", "volclone.flows.engine": "INFO"}
    set_levels("volclone.flows", "DEBUG")

A prefix picks every logger whose name starts with it ("" or None: all of them, the root too,
which Cinder leaves out). The embedded server runs its workers in this process, so they are
covered; a worker in another process (``volclone worker``) keeps its own levels.
"""

from __future__ import annotations

import logging

#: The levels Cinder's ``set-log`` takes (its ``LogLevel`` object's), in any case.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _loggers(prefix: str | None) -> list[logging.Logger]:
    prefix = prefix or ""
    found = [logging.getLogger(name) for name, obj in sorted(logging.root.manager.loggerDict.items())
             if isinstance(obj, logging.Logger) and name.startswith(prefix)]
    return found


def levels(prefix: str | None) -> dict[str, str]:
    """Each logger named with ``prefix``: its effective level's name."""
    return {lg.name: logging.getLevelName(lg.getEffectiveLevel()) for lg in _loggers(prefix)}


def set_levels(prefix: str | None, level: str) -> None:
    """Set ``level`` (one of :data:`LEVELS`, any case) on each logger named with ``prefix``."""
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"{level!r} is not a log level: give one of {', '.join(LEVELS)}")
    for lg in _loggers(prefix):
        lg.setLevel(name)
