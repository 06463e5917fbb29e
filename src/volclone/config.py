"""Typed settings, read from the environment (and CLI flags, which override it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8776
DEFAULT_PREFIX = "clone-"
#: The longest request body the API reads (1 MiB); longer ones are 413s.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/volclone")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "volclone"


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    #: SQLAlchemy URL (``VOLCLONE_DATABASE_URL``); empty means SQLite inside ``data_dir``.
    #: PostgreSQL: ``postgresql+psycopg://user[:password]@host[:port]/dbname``.
    database_url: str = ""
    #: PostgreSQL connections kept open per process (``VOLCLONE_DATABASE_POOL_SIZE``); up to
    #: 20 more are opened under load.
    database_pool_size: int = 10
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    #: Most volumes one clone-volumes request may name.
    max_clone_volumes: int = 100
    #: Clone flows that run at once; more wait their turn.
    flow_workers: int = 4
    #: Where the local pool's qemu-storage-daemon serves attached volumes over NBD.
    nbd_host: str = "127.0.0.1"
    nbd_port: int = 10809
    #: Volumes deeper than this many layers are flattened in the background (0: never).
    max_chain_depth: int = 4
    #: TESTS ONLY: snapshot volumes one at a time with this gap (ms) -- NOT consistent.
    unsafe_snapshot_gap_ms: float = 0
    #: Task-name prefixes whose tasks fail on purpose (tests prove reverts with them).
    failpoints: tuple[str, ...] = ()
    #: The longest request body the API accepts, in bytes (``VOLCLONE_MAX_REQUEST_BYTES``).
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'volclone.db'}"

    @property
    def pool_dir(self) -> Path:
        return self.data_dir / "pool"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        s = cls()
        if env.get("VOLCLONE_DATA_DIR"):
            s.data_dir = Path(env["VOLCLONE_DATA_DIR"])
        s.database_url = env.get("VOLCLONE_DATABASE_URL", s.database_url).strip()
        s.database_pool_size = int(env.get("VOLCLONE_DATABASE_POOL_SIZE", s.database_pool_size))
        if s.database_pool_size < 1:
            raise ValueError(f"VOLCLONE_DATABASE_POOL_SIZE must be at least 1, not {s.database_pool_size}")
        s.host = env.get("VOLCLONE_HOST", s.host)
        s.port = int(env.get("VOLCLONE_PORT", s.port))
        s.max_clone_volumes = int(env.get("VOLCLONE_MAX_CLONE_VOLUMES", s.max_clone_volumes))
        s.flow_workers = int(env.get("VOLCLONE_FLOW_WORKERS", s.flow_workers))
        s.nbd_host = env.get("VOLCLONE_NBD_HOST", s.nbd_host)
        s.nbd_port = int(env.get("VOLCLONE_NBD_PORT", s.nbd_port))
        s.max_chain_depth = int(env.get("VOLCLONE_MAX_CHAIN_DEPTH", s.max_chain_depth))
        s.unsafe_snapshot_gap_ms = float(env.get("VOLCLONE_UNSAFE_TEST_SNAPSHOT_GAP_MS", 0))
        s.failpoints = tuple(p.strip() for p in env.get("VOLCLONE_FAILPOINTS", "").split(",") if p.strip())
        s.max_request_bytes = int(env.get("VOLCLONE_MAX_REQUEST_BYTES", s.max_request_bytes))
        if s.max_request_bytes < 1:
            raise ValueError(f"VOLCLONE_MAX_REQUEST_BYTES must be a positive number of bytes, "
                             f"not {s.max_request_bytes}")
        for key, value in overrides.items():
            if value is not None:
                setattr(s, key, value)
        return s
