"""Fixtures of the policy tests: a real server with a token of each persona."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Env, _start, make_token


@dataclass
class Personas:
    """A token of each persona; ``member2``/``reader2`` belong to project p2, the others to p1."""

    admin: str
    member: str
    reader: str
    member2: str
    reader2: str


@dataclass
class ServerPersonas:
    env: Env
    tokens: Personas


def start_with_personas(tmp: Path, **extra_env: str) -> ServerPersonas:
    tmp.mkdir(parents=True, exist_ok=True)
    env = _start(tmp, extra_env)
    d = env.server.data_dir
    return ServerPersonas(env, Personas(env.admin_token, env.user_token, make_token(d, "p1", reader=True),
                                        make_token(d, "p2"), make_token(d, "p2", reader=True)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPersonas]:
    """A real ``volclone serve`` with the default policy."""
    s = start_with_personas(tmp_path_factory.mktemp("policy"))
    yield s
    s.env.server.stop()
