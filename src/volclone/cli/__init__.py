"""The ``volclone`` command: ``serve`` and admin commands here, HTTP client commands in ``commands``."""

from __future__ import annotations

from volclone.cli import commands  # noqa: F401  (registers the client commands on ``main``)
from volclone.cli.admin import main

__all__ = ["main"]
