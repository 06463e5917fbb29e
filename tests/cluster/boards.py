"""The job boards the tests of this folder post to, on the machine's real Redis."""

from __future__ import annotations

import redis

from volclone.flows.jobboard import NAMESPACE

#: A Redis db of the tests' own; each test's backend name (a uuid) keeps its board apart.
JOBS_URL = "redis://127.0.0.1:6379/9"


def drop_board(backend: str) -> None:
    """Remove every key of ``backend``'s board (never anything else: Redis is shared)."""
    r = redis.Redis.from_url(JOBS_URL)
    keys = list(r.scan_iter(f"{NAMESPACE}{backend}*"))
    if keys:
        r.delete(*keys)
