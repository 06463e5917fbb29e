"""Typed settings, read from the environment (and CLI flags, which override it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8776
DEFAULT_PREFIX = "clone-"
#: The longest request body the API reads (1 MiB); longer ones are 413s.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
#: How callers authenticate: ``local`` tokens (``volclone token create``) or ``keystone``.
AUTH_STRATEGIES = ("local", "keystone")
#: Cinder's default quotas (its ``quota_*`` options), in the order its quota sets list them; -1: unlimited.
#: volclone serves no backups: their two limits are kept and shown, as Cinder's, and nothing uses them.
DEFAULT_QUOTAS = {"volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10, "backup_gigabytes": 1000,
                  "groups": 10, "per_volume_gigabytes": -1}
#: Cinder's ``reservation_expire``: a reservation a crashed request left stops counting after a day.
DEFAULT_RESERVATION_EXPIRE_S = 86400.0
#: Cinder's ``service_down_time``: a service whose last heartbeat is older is ``down``.
DEFAULT_SERVICE_DOWN_TIME_S = 60.0
#: A volume left this long in a transitional status (``creating``, ``deleting``, ...) with nobody
#: working on it is cleaned up by the reaper (``volclone.service.reaper``).
DEFAULT_STALE_AFTER_S = 120.0
#: Cinder's ``message_ttl``: a user message is kept at least this long (30 days), then reaped.
DEFAULT_MESSAGE_TTL_S = 2592000.0


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
    #: TESTS ONLY: accept microversions up to this one (e.g. "3.40"), past what is implemented.
    unsafe_test_max_microversion: str | None = None
    #: Task-name prefixes whose tasks fail on purpose (tests prove reverts with them).
    failpoints: tuple[str, ...] = ()
    #: The longest request body the API accepts, in bytes (``VOLCLONE_MAX_REQUEST_BYTES``).
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    #: get_progress event streams open at once in one API process (``VOLCLONE_MAX_EVENT_STREAMS``);
    #: one more is a 503 with Retry-After (docs/events.md).
    max_event_streams: int = 32
    #: Seconds between two reads of a streamed task's progress (``VOLCLONE_EVENT_STREAM_POLL_S``).
    event_stream_poll_s: float = 0.5
    #: Seconds between two keep-alive comments of a quiet stream (``VOLCLONE_EVENT_STREAM_PING_S``).
    event_stream_ping_s: float = 15.0
    #: Seconds between retries of what failed clone reverts left behind (also retried at start).
    leftover_retry_s: float = 60.0
    #: ``local`` (volclone's own tokens, the default) or ``keystone`` (``VOLCLONE_AUTH``).
    auth: str = "local"
    #: Keystone's identity v3 URL, e.g. ``http://keystone:5000/v3`` (``VOLCLONE_KEYSTONE_URL``).
    keystone_url: str = ""
    #: The service user volclone validates tokens as (it needs the ``service`` or ``admin`` role).
    keystone_user: str = ""
    keystone_password: str = field(default="", repr=False)
    keystone_project: str = ""
    #: The domain of the service user and its project.
    keystone_domain: str = "Default"
    #: Seconds a validated token is trusted without asking Keystone again (never past its expiry).
    keystone_cache_s: float = 60.0
    #: The operator's policy.yaml (``VOLCLONE_POLICY_FILE``): rules that override the defaults.
    policy_file: Path | None = None
    #: Default quotas of every project (``VOLCLONE_QUOTA_VOLUMES``, ``_GIGABYTES``, ``_SNAPSHOTS``, ``_BACKUPS``,
    #: ``_BACKUP_GIGABYTES``, ``_GROUPS``, ``_PER_VOLUME_GIGABYTES``; -1: unlimited).
    quota_volumes: int = DEFAULT_QUOTAS["volumes"]
    quota_gigabytes: int = DEFAULT_QUOTAS["gigabytes"]
    quota_snapshots: int = DEFAULT_QUOTAS["snapshots"]
    quota_backups: int = DEFAULT_QUOTAS["backups"]
    quota_backup_gigabytes: int = DEFAULT_QUOTAS["backup_gigabytes"]
    quota_groups: int = DEFAULT_QUOTAS["groups"]
    #: The largest volume a project may make or extend to, in GiB (-1: no limit).
    quota_per_volume_gigabytes: int = DEFAULT_QUOTAS["per_volume_gigabytes"]
    #: Seconds a quota reservation holds when nothing commits or rolls it back (``VOLCLONE_QUOTA_RESERVATION_EXPIRE``).
    quota_reservation_expire_s: float = DEFAULT_RESERVATION_EXPIRE_S
    #: The scale-out roles (``volclone api``/``worker``; docs/deploy.md). TaskFlow's Redis job board:
    #: ``redis://host[:port][/db]`` (``VOLCLONE_JOBBOARD_URL``).
    jobboard_url: str = ""
    #: tooz's coordination backend, e.g. ``redis://host:6379/1`` (``VOLCLONE_COORDINATION_URL``).
    coordination_url: str = ""
    #: oslo.messaging's transport, e.g. ``rabbit://guest:guest@host:5672/`` (``VOLCLONE_TRANSPORT_URL``).
    transport_url: str = ""
    #: Seconds a worker's claim of a clone job lasts unless renewed (``VOLCLONE_CLAIM_EXPIRY_S``);
    #: a dead worker's flow is taken over this long after it died.
    claim_expiry_s: float = 15.0
    #: Seconds between two looks of a worker's conductor at its job board (``VOLCLONE_JOBBOARD_POLL_S``,
    #: TaskFlow's default 0.5): a posted clone waits up to this long to be claimed.
    jobboard_poll_s: float = 0.5
    #: Seconds the API waits for a worker to answer a call (``VOLCLONE_RPC_TIMEOUT_S``).
    rpc_timeout_s: float = 60.0
    #: Seconds after its last heartbeat a worker's service is listed ``down`` (``VOLCLONE_SERVICE_DOWN_TIME``).
    service_down_time_s: float = DEFAULT_SERVICE_DOWN_TIME_S
    #: Seconds after which a volume nobody works on is no longer ``creating``/``deleting``/...
    #: (``VOLCLONE_STALE_AFTER_S``); the reaper cleans it up (and runs every half of this).
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    #: Seconds a user message is kept (``VOLCLONE_MESSAGE_TTL``, Cinder's ``message_ttl``).
    message_ttl_s: float = DEFAULT_MESSAGE_TTL_S

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'volclone.db'}"

    @property
    def quota_defaults(self) -> dict[str, int]:
        return {r: int(getattr(self, f"quota_{r}")) for r in DEFAULT_QUOTAS}

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
        s.unsafe_test_max_microversion = env.get("VOLCLONE_UNSAFE_TEST_MAX_MICROVERSION") or None
        s.failpoints = tuple(p.strip() for p in env.get("VOLCLONE_FAILPOINTS", "").split(",") if p.strip())
        s.max_request_bytes = int(env.get("VOLCLONE_MAX_REQUEST_BYTES", s.max_request_bytes))
        if s.max_request_bytes < 1:
            raise ValueError(f"VOLCLONE_MAX_REQUEST_BYTES must be a positive number of bytes, "
                             f"not {s.max_request_bytes}")
        s.max_event_streams = int(env.get("VOLCLONE_MAX_EVENT_STREAMS", s.max_event_streams))
        if s.max_event_streams < 0:
            raise ValueError(f"VOLCLONE_MAX_EVENT_STREAMS must be 0 (no streams) or more, not {s.max_event_streams}")
        s.event_stream_poll_s = float(env.get("VOLCLONE_EVENT_STREAM_POLL_S", s.event_stream_poll_s))
        if not 0.05 <= s.event_stream_poll_s <= 60:
            raise ValueError(f"VOLCLONE_EVENT_STREAM_POLL_S must be 0.05 to 60 seconds, not {s.event_stream_poll_s}")
        s.event_stream_ping_s = float(env.get("VOLCLONE_EVENT_STREAM_PING_S", s.event_stream_ping_s))
        if not 0.1 <= s.event_stream_ping_s <= 300:
            raise ValueError(f"VOLCLONE_EVENT_STREAM_PING_S must be 0.1 to 300 seconds, not {s.event_stream_ping_s}")
        s.leftover_retry_s = float(env.get("VOLCLONE_LEFTOVER_RETRY_S", s.leftover_retry_s))
        s.auth = env.get("VOLCLONE_AUTH", s.auth).strip().lower() or s.auth
        s.keystone_url = env.get("VOLCLONE_KEYSTONE_URL", s.keystone_url)
        s.keystone_user = env.get("VOLCLONE_KEYSTONE_USER", s.keystone_user)
        s.keystone_password = env.get("VOLCLONE_KEYSTONE_PASSWORD", s.keystone_password)
        s.keystone_project = env.get("VOLCLONE_KEYSTONE_PROJECT", s.keystone_project)
        s.keystone_domain = env.get("VOLCLONE_KEYSTONE_DOMAIN", "") or s.keystone_domain
        s.keystone_cache_s = float(env.get("VOLCLONE_KEYSTONE_CACHE_S", s.keystone_cache_s))
        if env.get("VOLCLONE_POLICY_FILE"):
            s.policy_file = Path(env["VOLCLONE_POLICY_FILE"])
        for resource in DEFAULT_QUOTAS:
            name = f"VOLCLONE_QUOTA_{resource.upper()}"
            limit = int(env.get(name, getattr(s, f"quota_{resource}")))
            if limit < -1:
                raise ValueError(f"{name} must be -1 (unlimited) or a number from 0, not {limit}")
            setattr(s, f"quota_{resource}", limit)
        s.quota_reservation_expire_s = float(env.get("VOLCLONE_QUOTA_RESERVATION_EXPIRE",
                                                     s.quota_reservation_expire_s))
        if s.quota_reservation_expire_s <= 0:
            raise ValueError("VOLCLONE_QUOTA_RESERVATION_EXPIRE must be a positive number of seconds")
        s.jobboard_url = env.get("VOLCLONE_JOBBOARD_URL", s.jobboard_url).strip()
        s.coordination_url = env.get("VOLCLONE_COORDINATION_URL", s.coordination_url).strip()
        s.transport_url = env.get("VOLCLONE_TRANSPORT_URL", s.transport_url).strip()
        s.claim_expiry_s = float(env.get("VOLCLONE_CLAIM_EXPIRY_S", s.claim_expiry_s))
        if s.claim_expiry_s < 1:
            raise ValueError(f"VOLCLONE_CLAIM_EXPIRY_S must be at least 1 second, not {s.claim_expiry_s}")
        s.jobboard_poll_s = float(env.get("VOLCLONE_JOBBOARD_POLL_S", s.jobboard_poll_s))
        if not 0.01 <= s.jobboard_poll_s <= 60:
            raise ValueError(f"VOLCLONE_JOBBOARD_POLL_S must be 0.01 to 60 seconds, not {s.jobboard_poll_s}")
        s.rpc_timeout_s = float(env.get("VOLCLONE_RPC_TIMEOUT_S", s.rpc_timeout_s))
        if s.rpc_timeout_s <= 0:
            raise ValueError(f"VOLCLONE_RPC_TIMEOUT_S must be a positive number of seconds, not {s.rpc_timeout_s}")
        s.service_down_time_s = float(env.get("VOLCLONE_SERVICE_DOWN_TIME", s.service_down_time_s))
        if s.service_down_time_s <= 0:
            raise ValueError("VOLCLONE_SERVICE_DOWN_TIME must be a positive number of seconds")
        s.stale_after_s = float(env.get("VOLCLONE_STALE_AFTER_S", s.stale_after_s))
        if s.stale_after_s < 0:
            raise ValueError(f"VOLCLONE_STALE_AFTER_S must be 0 or more seconds, not {s.stale_after_s}")
        s.message_ttl_s = float(env.get("VOLCLONE_MESSAGE_TTL", s.message_ttl_s))
        if s.message_ttl_s <= 0:
            raise ValueError(f"VOLCLONE_MESSAGE_TTL must be a positive number of seconds, not {s.message_ttl_s}")
        for key, value in overrides.items():
            if value is not None:
                setattr(s, key, value)
        s.check_auth()
        return s

    def check_cluster(self) -> None:
        """The scale-out roles need all three services (ValueError naming what is missing)."""
        missing = [name for name, value in (("VOLCLONE_DATABASE_URL", self.database_url),
                                            ("VOLCLONE_JOBBOARD_URL", self.jobboard_url),
                                            ("VOLCLONE_COORDINATION_URL", self.coordination_url),
                                            ("VOLCLONE_TRANSPORT_URL", self.transport_url)) if not value]
        if missing:
            raise ValueError(f"`volclone api` and `volclone worker` need {', '.join(missing)} (docs/deploy.md)")
        if self.database_url.startswith("sqlite"):
            raise ValueError("`volclone api` and `volclone worker` share one database: VOLCLONE_DATABASE_URL must "
                             "name PostgreSQL, not SQLite")

    def check_auth(self) -> None:
        """The auth settings make sense together (ValueError naming what is wrong otherwise)."""
        if self.auth not in AUTH_STRATEGIES:
            raise ValueError(f"VOLCLONE_AUTH must be one of {', '.join(AUTH_STRATEGIES)}, not {self.auth!r}")
        if self.keystone_cache_s < 0:
            raise ValueError(f"VOLCLONE_KEYSTONE_CACHE_S must be 0 or more seconds, not {self.keystone_cache_s}")
        if self.auth == "keystone":
            missing = [name for name, value in (("VOLCLONE_KEYSTONE_URL", self.keystone_url),
                                                ("VOLCLONE_KEYSTONE_USER", self.keystone_user),
                                                ("VOLCLONE_KEYSTONE_PASSWORD", self.keystone_password),
                                                ("VOLCLONE_KEYSTONE_PROJECT", self.keystone_project))
                       if not value]
            if missing:
                raise ValueError(f"VOLCLONE_AUTH=keystone needs {', '.join(missing)}")
