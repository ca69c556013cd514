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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shoptrack.protocol import Event, Rejection


class StoreUnavailable(Exception):
    """The database cannot be reached or written right now; try again later."""


IpStorage = Literal["full", "truncate", "none"]
IP_STORAGE_MODES: tuple[IpStorage, ...] = ("full", "truncate", "none")


class AppSettings(BaseModel):
    """An app's own settings (``shoptrack apps set``), stored as one JSON document.

    Keys a newer version wrote and this one does not know are ignored on read."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ip_storage: IpStorage = Field("full", description="How client IPs are kept.")
    rate_limit_per_second: float | None = Field(
        None, ge=0, description="Events per second this app may send to one process "
        "(None or 0: the server's default).")


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
class Outcome:
    """What the write path did with one event: ``ok`` or ``duplicate``, and an optional note."""

    status: str = "ok"
    note: str | None = None


OK = Outcome()
DUPLICATE = Outcome("duplicate")
REJECTED = Outcome("rejected")
SUPPRESSED = Outcome("suppressed")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of the app-wide event listing; ``before`` is an event id cursor."""

    type: str | None = None
    since: int | None = None
    until: int | None = None
    before: int | None = None
    limit: int = 100


class Store(ABC):
    backend: str

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
