"""Fixtures of the attachment tests: a user of another project on the shared server."""

from __future__ import annotations

import pytest

from conftest import Api, Env, make_token


@pytest.fixture(scope="session")
def other_project(env: Env) -> Api:
    """A user of project p2, on the shared server."""
    return env.server.client(make_token(env.server.data_dir, "p2"), "p2")
