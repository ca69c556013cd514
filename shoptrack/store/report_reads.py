"""The store's contract for reports: the reads the report modules need, and the rebuild.

Ranges cross this contract in two forms, both in UTC and decided by
:mod:`shoptrack.reports.period` (never here):

* :data:`Spans`: ``(i, start_ms, end_ms)``, half-open, for what is read from
  rows that carry a time (orders, visits, carts, profiles);
* :data:`Pieces`: ``(i, grain, lo, hi)``, half-open bucket ranges of the
  rollups (grain 0: 15-minute slots, grain 1: UTC days; the counts also have grain 2,
  blocks of 16 days, which the reads use on their own), several pieces per
  interval ``i``.  Distinct counts are taken over all pieces of one ``i``
  together, so a person active in two pieces counts once.

Every method is a read (any thread; never through the writer) except the
rebuild's and :meth:`ReportReads.note_events_expired`, which write in their own
transactions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Spans = Sequence[tuple[int, int, int]]
Pieces = Sequence[tuple[int, int, int, int]]


@dataclass(frozen=True, slots=True)
class OrderTotals:
    """Orders placed in one span; money in units (shoptrack.money)."""

    orders: int = 0
    revenue: int = 0
    cancelled_orders: int = 0
    cancelled_revenue: int = 0


@dataclass(frozen=True, slots=True)
class SourceRow:
    """Visits of one (channel, referrer domain, utm_source, utm_campaign) in a span."""

    channel: str
    referrer_domain: str | None
    utm_source: str | None
    utm_campaign: str | None
    visits: int
    visitors: int
    orders: int
    revenue: int


@dataclass(frozen=True, slots=True)
class CartRow:
    """A live, non-empty cart unchanged since ``idle_since`` (ms); value in units."""

    visitor_id: int
    visitor_uid: str | None
    guest_uids: tuple[str, ...]
    info: dict[str, Any]
    items: list[dict[str, Any]]
    value: int
    idle_since: int


class ReportReads(ABC):
    @abstractmethod
    def report_counts(self, app_id: int, dim: str, pieces: Pieces
                      ) -> list[tuple[int, str, int, int]]:
        """``(i, key, n, qty)`` summed over each interval's pieces, per key of ``dim``
        (``event``: key = event type; ``view``, ``add``: product id, ``qty`` the quantity
        added; ``page``: path; ``custom``: key)."""

    @abstractmethod
    def report_reach(self, app_id: int, dim: str, pieces: Pieces,
                     keys: Sequence[str] | None = None) -> list[tuple[int, str, int]]:
        """``(i, key, people)``: distinct people per interval and key of ``dim`` (``any``,
        ``view``, ``add`` with key ``''``; ``product``, ``page``, ``custom``); only these
        ``keys`` when given."""

    @abstractmethod
    def report_active(self, app_id: int, pieces: Pieces) -> dict[int, tuple[int, int, int]]:
        """Per interval: (distinct people with any event, of whom viewed a product, of whom
        added to a cart); intervals with nobody are left out."""

    @abstractmethod
    def report_days_upto(self, app_id: int) -> int:
        """The last UTC day (``ms // 86400000``) whose day rows are summed; -1 for none."""

    @abstractmethod
    def report_people(self, app_id: int, pieces: Pieces) -> tuple[int, int]:
        """(people with any event, of whom identified by a visitor uid) over all pieces."""

    @abstractmethod
    def report_new_visitors(self, app_id: int, start: int, end: int, pieces: Pieces) -> int:
        """People first seen in ``[start, end)`` (whose pieces are ``pieces``)."""

    @abstractmethod
    def report_orders(self, app_id: int, pieces: Pieces) -> dict[int, OrderTotals]:
        """Orders placed in each interval (of the pieces), as they stand now (cancelled
        apart), from their counts (``report_counts`` dimension ``order``, per state;
        ``sold`` and ``sold_revenue`` per product: shoptrack.store.order_lines)."""

    @abstractmethod
    def report_buyers(self, app_id: int, start: int, end: int) -> int:
        """Distinct people with an order placed in ``[start, end)`` and not cancelled."""

    @abstractmethod
    def report_product_names(self, app_id: int, product_ids: Sequence[str]) -> dict[str, str]:
        """The latest name seen of each product (those without one are left out)."""

    @abstractmethod
    def report_visits(self, app_id: int, pieces: Pieces) -> dict[int, int]:
        """Visits begun in each interval (of the pieces)."""

    @abstractmethod
    def report_sources(self, app_id: int, start: int, end: int, pieces: Pieces
                       ) -> tuple[list[SourceRow], dict[str, int]]:
        """Visits begun in ``[start, end)`` (the same time as ``pieces``) by source, and
        distinct people per channel.  An order counts for the visit it was placed in."""

    @abstractmethod
    def report_entries(self, app_id: int, pieces: Pieces) -> dict[str, int]:
        """Visits begun in the pieces' time per entry path."""

    @abstractmethod
    def report_event_keys(self, app_id: int) -> set[str]:
        """The app's registered custom event keys."""

    @abstractmethod
    def report_abandoned_carts(self, app_id: int, idle_before: int, span: tuple[int, int],
                               limit: int, offset: int) -> tuple[int, int, list[CartRow]]:
        """Non-empty carts unchanged since before ``idle_before`` whose last change falls
        in ``span``, most recently idle first: (count, total value, one page)."""

    @abstractmethod
    def rebuild_reports(self, app_id: int, since: int | None, restart: bool = False
                        ) -> tuple[int, int, bool]:
        """One step of the app's rollup rebuild (begun when none is pending, or with
        ``restart``), in its own transaction: ``(cursor, upto, finished)`` in event ids."""

    @abstractmethod
    def report_rebuild_floor(self, app_id: int) -> int:
        """The first UTC midnight (ms) a rebuild may start from: 0, or the first whole day
        whose raw events retention keeps (the rollups before it stay as they are)."""

    @abstractmethod
    def note_events_expired(self, app_id: int, before_ms: int) -> None:
        """Retention is about to delete the app's events received before ``before_ms``."""
