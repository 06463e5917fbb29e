"""The ``volclone`` command: ``serve``/``api``/``worker`` in ``roles``, admin commands in ``admin``,
HTTP client commands in ``commands``."""

from __future__ import annotations

from volclone.cli import commands, roles  # noqa: F401  (register their commands on ``main``)
from volclone.cli.admin import main

__all__ = ["main"]
