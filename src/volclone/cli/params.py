"""Parameter types shared by the admin and the client commands."""

from __future__ import annotations

from typing import Any

import click


class KeyValue(click.ParamType):  # type: ignore[type-arg]
    """``KEY=VALUE`` on the command line, as a ``(key, value)`` pair."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        key, sep, val = str(value).partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        return key, val
