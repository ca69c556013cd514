"""Settings: one table, read from ``SHOPTRACK_*`` environment variables.

Each setting has a type, a default and a help text (the ``description``);
``docs/configuration.md`` documents every one of them and a test checks that
it does.  A malformed value (``SHOPTRACK_PORT=abc``) fails loudly at start.
Tests build ``Settings(...)`` with overrides and hand it to ``create_app``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///data/shoptrack.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHOPTRACK_", extra="ignore", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="Where events and state live: `sqlite:///path.db` or "
        "`postgresql://user@host:port/db`.",
    )
    host: str = Field("127.0.0.1", description="Address `shoptrack serve` listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port `shoptrack serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Ingest processes `shoptrack serve` starts.")
    batch_max_events: int = Field(
        1000, ge=1, le=100_000,
        description="Group commit: most events written in one transaction.",
    )
    batch_max_wait_ms: float = Field(
        1.0, ge=0, le=1000,
        description="Group commit: how long a batch waits for more events before committing "
        "(0: commit what has arrived at once).",
    )
    max_body_bytes: int = Field(
        64 * 1024, ge=1024,
        description="Largest body accepted by `POST /watch/event` and the order webhook.",
    )
    max_batch_body_bytes: int = Field(
        1024 * 1024, ge=1024,
        description="Largest body (after gzip decoding) accepted by `POST /watch/events`.",
    )
    max_batch_events: int = Field(
        500, ge=1, description="Most events accepted in one `POST /watch/events`."
    )
    app_cache_seconds: float = Field(
        5.0, ge=0,
        description="How long a process remembers an app looked up by its key.",
    )
    sqlite_busy_timeout_ms: int = Field(
        30_000, ge=0,
        description="SQLite: how long a writer waits for another process's write lock.",
    )
    postgres_pool_size: int = Field(
        4, ge=1, description="PostgreSQL: connections each process keeps for reads."
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A client must send its request headers within this time.")
    body_timeout_seconds: float = Field(
        15.0, gt=0, description="A client must send its whole body within this time (408 after).")
    drain_seconds: float = Field(
        0.0, ge=0, le=300,
        description="On SIGTERM, keep serving this long with /health answering 503 (so a load "
        "balancer stops sending), then stop accepting and finish in-flight requests.")
    rate_limit_app_per_second: float = Field(
        0.0, ge=0, description="Events per second one app may send to one process (0: no limit; "
        "an app's own `rate_limit_per_second` setting overrides it).")
    rate_limit_ip_per_second: float = Field(
        0.0, ge=0, description="Requests per second one client IP may make to one process "
        "(0: no limit).")
    rejected_max_per_app: int = Field(
        10_000, ge=0, description="Most refused requests kept per app; past it the app's "
        "oldest are deleted, down to 90% of it (0: no limit).")
    rejected_max_age_days: float = Field(
        30.0, ge=0, description="Refused requests received longer ago than this are deleted "
        "(0: kept until the count limit removes them).")
    retention_interval_seconds: float = Field(
        3600.0, ge=0, description="How often each server process looks for events past an "
        "app's `retention_days` and deletes them (0: never; run `shoptrack retention run` "
        "from cron instead).")
    session_hours: float = Field(
        168.0, gt=0, le=24 * 366, description="How long a dashboard login lasts, in hours "
        "(default a week); then the user logs in again. The expiry is kept on the server.")
    metrics_token: str | None = Field(
        None, description="When set, `GET /metrics` needs `Authorization: Bearer <token>`.")
    # Triggers (docs/triggers.md).
    public_url: str | None = Field(
        None, description="The address people and shops reach this server at, for the links "
        "in trigger e-mails (unsubscribe, clicks); default `http://<host>:<port>`.")
    trigger_interval_seconds: float = Field(
        1.0, ge=0, description="How often each server process looks for due trigger firings "
        "and deliveries (0: never).")
    trigger_retry_schedule: str = Field(
        "0,5,300,1800,7200,18000,36000,36000",
        description="Seconds before each webhook or e-mail attempt, comma-separated (the "
        "Standard Webhooks schedule; +-10% jitter); after the last a delivery is dead.")
    trigger_timeout_seconds: float = Field(
        10.0, gt=0, description="A webhook receiver or SMTP server must answer within this.")
    trigger_lease_seconds: float = Field(
        60.0, gt=0, description="How long a process holds a claimed firing or delivery; "
        "another takes it over after this if the process died.")
    trigger_batch_size: int = Field(
        100, ge=1, le=10_000, description="Most firings (and deliveries) a process claims "
        "at once.")
    trigger_concurrency: int = Field(
        8, ge=1, le=256, description="Deliveries one process sends at the same time.")
