"""The storage contract: what a backend promises, and the values that cross it.

A :class:`Store` is used by three kinds of caller, and promises each:

* **The write path** (one writer thread per process) calls :meth:`apply_batch`.
  It is *atomic*: the events of the batch and every state change they cause
  (visitors, guest links, carts, orders) commit together or not at all.
  It is *safe across processes and hosts*: any number of processes may call
  it on one database at once without losing an update (SQLite: one writer at
  a time, ``BEGIN IMMEDIATE``; PostgreSQL: advisory locks on the uids of the
  batch, taken in sorted order, plus atomic SQL arithmetic).  It raises
  :class:`StoreUnavailable` when the database cannot be reached or written;
  anything else it raises means the batch itself is at fault.
* **Reads** (any thread) never go through the writer and never block it.
* **Admin** (CLI, tests): apps and their custom event keys.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shoptrack.protocol import Event, Rejection
from shoptrack.store.report_reads import ReportReads
from shoptrack.store.trigger_contract import TriggerState


class StoreUnavailable(Exception):
    """The database cannot be reached or written right now; try again later."""


IpStorage = Literal["full", "truncate", "none"]
IP_STORAGE_MODES: tuple[IpStorage, ...] = ("full", "truncate", "none")
OrderUpdates = Literal["any", "server", "signed"]
ORDER_UPDATE_MODES: tuple[OrderUpdates, ...] = ("any", "server", "signed")


def _zone_name(name: str) -> str:
    """An IANA time zone name that this system's zoneinfo knows (``Europe/Moscow``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as "
                         "'Europe/Moscow')") from None
    return name


class AppSettings(BaseModel):
    """An app's own settings (``shoptrack apps set``), stored as one JSON document.

    Keys a newer version wrote and this one does not know are ignored on read."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ip_storage: IpStorage = Field("full", description="How client IPs are kept.")
    rate_limit_per_second: float | None = Field(
        None, ge=0, description="Events per second this app may send to one process "
        "(None or 0: the server's default).")
    # Reports (docs/reports.md).  USD is only a default: most Convead shops sell in RUB
    # and say so with --currency; the code is shown next to money, never converted.
    timezone: str = Field("UTC", description="IANA time zone the reports' days follow.")
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$",
                          description="ISO 4217 code shown with the reports' money.")
    abandon_after: int = Field(3600, ge=60, le=365 * 86400, description="Seconds a non-empty "
                               "cart stays unchanged before it counts as abandoned.")
    visit_gap: int = Field(1800, ge=60, le=86400, description="Seconds without an event "
                           "that end a visit.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone_name(value)

    order_updates: OrderUpdates = Field(
        "server", description="Who may change orders (order_update, the order webhook): "
        "'any' request with the app key; 'server': not browsers (an Origin header) nor "
        "GET /watch/event, which also may not change carts; 'signed': as 'server', and "
        "order changes need Authorization: Bearer <api secret>. See docs/operations.md.")
    retention_days: int | None = Field(
        None, ge=1, le=36_500, description="Raw events received longer ago than this many "
        "days are deleted by the retention job (None: kept forever); visitors, carts, orders "
        "and report rollups stay. See docs/operations.md, \"Retention\".")


@dataclass(frozen=True, slots=True)
class App:
    id: int
    app_key: str
    name: str
    domains: tuple[str, ...] = ()
    settings: AppSettings = field(default_factory=AppSettings)
    created_at: int = 0


@dataclass(frozen=True, slots=True)
class WriteProbe:
    """A write-path item that changes one row: proves commits work (used by /health)."""

    at: int = 0


@dataclass(frozen=True, slots=True)
class RejectionLimits:
    """How many refused requests are kept per app, and for how long (0: no limit); see
    ``docs/operations.md``, "Refused events are kept"."""

    max_per_app: int = 10_000
    max_age_days: float = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the write path did with one event: ``ok`` or ``duplicate``, and an optional note."""

    status: str = "ok"
    note: str | None = None


OK = Outcome()
DUPLICATE = Outcome("duplicate")
REJECTED = Outcome("rejected")
SUPPRESSED = Outcome("suppressed")


Role = Literal["owner", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "viewer")


@dataclass(frozen=True, slots=True)
class User:
    """A dashboard user; ``password_hash`` is argon2 (shoptrack.users).
    ``must_change_password``: logged in with a one-time password, the user must choose
    their own before the dashboard opens anything else."""

    id: int
    email: str
    password_hash: str = field(repr=False)
    created_at: int = 0
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class UserSession:
    """A live dashboard session: its user, the CSRF token its forms carry, its expiry (ms)."""

    user: User
    csrf_token: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """Filters of the order listing (newest first); ``since``/``until`` are ms of creation."""

    state: str | None = None
    since: int | None = None
    until: int | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of the app-wide event listing; ``before`` is an event id cursor."""

    type: str | None = None
    since: int | None = None
    until: int | None = None
    before: int | None = None
    limit: int = 100


ExportKind = Literal["events", "visitors", "orders", "carts"]
EXPORT_KINDS: tuple[ExportKind, ...] = ("events", "visitors", "orders", "carts")


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """What a full export reads, in id order: rows with ``after_id < id <= upto``.

    ``type``, ``since`` and ``until`` (ms of ``received_at``) filter events only.  For carts
    the ids are the visitors' (a cart's lines go together)."""

    after_id: int = 0
    upto: int = 2**63 - 1
    type: str | None = None
    since: int | None = None
    until: int | None = None
    page_size: int = 5_000


@dataclass(frozen=True, slots=True)
class ExportPage:
    """One page of an export: rows as the read API shows them, and the id to go on after."""

    rows: list[dict[str, Any]]
    last_id: int


class Store(ReportReads, TriggerState, ABC):
    """The storage contract; the report reads are in :mod:`.report_reads`."""

    backend: str
    # Enforced by apply_batch when it keeps rejections (open_store sets it from Settings).
    rejection_limits: RejectionLimits = RejectionLimits()

    # -- write path ------------------------------------------------------------
    @abstractmethod
    def apply_batch(self, items: Sequence[Event | Rejection | WriteProbe]) -> list[Outcome]:
        """Store the events (and refused requests) and apply their state changes in one
        transaction (atomic).  Outcomes, in order: ``ok``, ``duplicate`` (message_id seen),
        ``suppressed`` (an erased person's uid), ``rejected`` (a Rejection kept)."""

    @abstractmethod
    def replay_rejected(self, app_id: int, rejection_id: int,
                        events: Sequence[Event]) -> list[Outcome]:
        """Apply the events parsed again from a kept rejection and mark it replayed (atomic)."""

    # -- admin -----------------------------------------------------------------
    @abstractmethod
    def add_app(self, name: str, app_key: str, secret_hash: str,
                   domains: Sequence[str] = ()) -> App:
        """Raises ValueError when the app key is taken."""

    @abstractmethod
    def list_apps(self) -> list[App]: ...

    @abstractmethod
    def app_by_key(self, app_key: str) -> App | None: ...

    @abstractmethod
    def app_by_secret_hash(self, secret_hash: str) -> App | None: ...

    @abstractmethod
    def set_secret_hash(self, app_id: int, secret_hash: str) -> None: ...

    @abstractmethod
    def update_app(self, app_id: int, *, domains: Sequence[str] | None = None,
                   settings: AppSettings | None = None) -> None:
        """Replace the app's domain list and/or settings (None: leave as is)."""

    @abstractmethod
    def add_event_key(self, app_id: int, key: str, title: str | None = None) -> None:
        """Register a custom event key (idempotent)."""

    @abstractmethod
    def remove_event_key(self, app_id: int, key: str) -> bool: ...

    @abstractmethod
    def event_keys(self, app_id: int) -> list[dict[str, Any]]:
        """Registered keys and every key seen in stored events, with counts."""

    @abstractmethod
    def registered_event_keys(self, app_id: int) -> dict[str, str | None]:
        """The app's registered custom event keys and the name each was given (or None)."""

    # -- reads -----------------------------------------------------------------
    @abstractmethod
    def visitor(self, app_id: int, uid: str) -> dict[str, Any] | None:
        """The profile reached by a visitor uid or any of its guest uids; None if unknown."""

    @abstractmethod
    def visitor_events(self, app_id: int, uid: str, limit: int,
                       before: int | None) -> list[dict[str, Any]] | None:
        """The visitor's events, newest first; None when the uid is unknown."""

    @abstractmethod
    def order(self, app_id: int, order_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def events(self, app_id: int, query: EventQuery) -> list[dict[str, Any]]:
        """The app's events matching the query, newest first."""

    @abstractmethod
    def count_events(self, app_id: int | None = None) -> int: ...

    @abstractmethod
    def rejected(self, app_id: int, limit: int, before: int | None) -> list[Rejection]:
        """Kept rejected requests, newest first."""

    @abstractmethod
    def rejection(self, app_id: int, rejection_id: int) -> Rejection | None: ...

    @abstractmethod
    def search_visitors(self, app_id: int, text: str, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` visitors: first those whose uid (visitor or guest), whole
        e-mail (any case) or whole phone (spaces, dashes, dots and brackets aside) is
        ``text``, found by index; then those whose name, e-mail or phone contains it
        (case-insensitively), looked for only among the visitors first seen most
        recently (:data:`shoptrack.store.visitor_reads.SEARCH_SCAN` of them).  Each group
        most recently seen first.  Each is a summary: ``id``, ``uid`` (one to open the
        profile by), ``visitor_uid``, ``info``, ``first_seen``, ``last_seen``,
        ``event_count``."""

    @abstractmethod
    def recent_visitors(self, app_id: int, limit: int) -> list[dict[str, Any]]:
        """Summaries (as :meth:`search_visitors`) of the most recently seen visitors, latest
        first: those who sent the app's newest events (by arrival; at most
        :data:`shoptrack.store.visitor_reads.RECENT_EVENTS` events are read)."""

    @abstractmethod
    def orders(self, app_id: int, query: OrderQuery) -> list[dict[str, Any]]:
        """Orders matching the query, newest first, each as :meth:`order` gives it."""

    # -- dashboard users -------------------------------------------------------
    @abstractmethod
    def add_user(self, email: str, password_hash: str,
                 must_change_password: bool = False) -> User:
        """Raises ValueError when the e-mail (compared lower-cased) is taken."""

    @abstractmethod
    def user_by_email(self, email: str) -> User | None: ...

    @abstractmethod
    def list_users(self) -> list[User]: ...

    @abstractmethod
    def count_users(self) -> int: ...

    @abstractmethod
    def set_password_hash(self, user_id: int, password_hash: str,
                          must_change_password: bool = False) -> None:
        """Replace the password, set ``must_change_password`` as given and end every
        session of the user (atomic)."""

    @abstractmethod
    def remove_user(self, user_id: int) -> bool:
        """Remove the user with their app roles and sessions (atomic); False when unknown."""

    @abstractmethod
    def grant(self, user_id: int, app_id: int, role: Role) -> None:
        """Give the user this role on the app, replacing any other (idempotent)."""

    @abstractmethod
    def memberships(self, user_id: int) -> list[tuple[App, Role]]:
        """The apps the user may open, with their role on each, by app id."""

    @abstractmethod
    def add_session(self, token_hash: str, user_id: int, csrf_token: str,
                    expires_at: int) -> None:
        """Store a new session; expired sessions of any user are removed on the way."""

    @abstractmethod
    def session(self, token_hash: str, now: int) -> UserSession | None:
        """The session of this token hash; None when unknown or expired at ``now``."""

    @abstractmethod
    def remove_session(self, token_hash: str) -> None:
        """End a session (idempotent)."""

    @abstractmethod
    def note_login_failure(self, keys: Sequence[str], at: int, forget_before: int) -> None:
        """Record one failed login under each key; forget failures older than
        ``forget_before``."""

    @abstractmethod
    def login_failures(self, keys: Sequence[str], since: int) -> dict[str, int]:
        """Failed logins per key since ``since`` (keys without any are left out)."""

    @abstractmethod
    def clear_login_failures(self, keys: Sequence[str]) -> None: ...

    # -- export and retention (shoptrack.export, shoptrack.retention) ------------
    @abstractmethod
    def export_upto(self, kind: ExportKind, app_id: int) -> int:
        """The highest id an export started now covers (0: none): every row of ``kind``
        with a lower id is committed or never will be (PostgreSQL waits for the
        transactions writing events at this moment), so ``after_id`` = this value
        misses nothing next time."""

    @abstractmethod
    def export_pages(self, kind: ExportKind, app_id: int,
                     query: ExportQuery) -> Iterator[ExportPage]:
        """The app's rows of ``kind`` matching the query, in id order, ``page_size`` a page
        (keyset pagination: each page is one short read, memory stays flat).  Rows are
        shaped as the read API shows them: events as ``GET /api/v1/events``, visitors
        and orders with their uids, carts one row per line."""

    @abstractmethod
    def expire_events(self, app_id: int, before_ms: int, after_id: int,
                      scan: int) -> tuple[int, int | None]:
        """Delete the app's events received before ``before_ms`` among the next ``scan``
        events with an id above ``after_id`` (one short transaction; only ``events`` is
        touched).  Returns how many were deleted and the id to go on after, or None when
        the walk is done: the scanned events held no old one, or there were no more."""

    @abstractmethod
    def claim_job(self, name: str, holder: str, now: int, lease_ms: int,
                  force: bool = False) -> bool:
        """Take (or renew) the lease on job ``name`` until ``now + lease_ms`` (atomic).
        True when ``holder`` has it: nobody else's lease is live and (unless ``force``)
        the job is due (its ``next_run`` has come)."""

    @abstractmethod
    def finish_job(self, name: str, holder: str, next_run: int) -> None:
        """Release ``holder``'s lease on the job; it is due again at ``next_run``."""

    # -- privacy ---------------------------------------------------------------
    @abstractmethod
    def export_visitor(self, app_id: int, uid: str) -> dict[str, Any] | None:
        """Everything held about the person reached by ``uid``; None when unknown."""

    @abstractmethod
    def erase_visitor(self, app_id: int, uid: str) -> dict[str, int] | None:
        """Erase the person (see shoptrack.privacy) and suppress their uids (atomic).
        Returns counts of what was removed; None when the uid is unknown."""

    # -- lifecycle -------------------------------------------------------------
    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers and can take a write now
        (SQLite: the write lock can be had within a second; PostgreSQL: a primary)."""

    @abstractmethod
    def close(self) -> None: ...
