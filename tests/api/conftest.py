"""Fixtures of the API tests: tokens for other projects, and the shared server's parts."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Api, Env, make_token


@pytest.fixture(scope="session")
def other(env: Env) -> Api:
    """A user of project p2, on the shared server."""
    return env.server.client(make_token(env.server.data_dir, "p2"), "p2")


@pytest.fixture(scope="session")
def default_type(env: Env) -> dict[str, Any]:
    types = env.admin.ok("GET", "/types")["volume_types"]
    return next(t for t in types if t["name"] == "__DEFAULT__")
