"""The write path and the storage behind it: one package, one file a stage.

Where an event goes once the web layer has validated it:

* :mod:`.writer`: the group-commit writer thread; handlers await it.
* :mod:`.batch`: one transaction's batch, applied in arrival order
  (duplicates, suppression, the event rows, profile counters and info).
* :mod:`.identity`: which profile an event belongs to (create, link, merge).
* :mod:`.carts` and :mod:`.orders`: how an event changes a cart or an order.
* :mod:`.rollups` (with :mod:`.visits`, :mod:`.order_lines`, :mod:`.days`): the report
  rollups, in the same transaction; :mod:`.rebuild` recomputes them from the events.
* :mod:`.tx`: the cursor the rules see, with ``?`` placeholders on every backend.
* :mod:`.contract`: the :class:`Store` contract and the values that cross it.
  :mod:`.report_reads`: its report reads, in SQL once in :mod:`.report_sql`.
* :mod:`.sql`: the SQL both backends share (reads, admin, privacy), with the
  dashboard's visitor lists in :mod:`.visitor_reads`;
  :mod:`.sqlite` and :mod:`.postgres`: what each backend adds.

The rules themselves are described once, in ``docs/state-rules.md``.
"""

from shoptrack.store.contract import (
    App,
    AppSettings,
    EventQuery,
    Outcome,
    RejectionLimits,
    Store,
    StoreUnavailable,
    WriteProbe,
)

__all__ = ["App", "AppSettings", "EventQuery", "Outcome", "RejectionLimits", "Store",
           "StoreUnavailable", "WriteProbe", "open_store"]


def open_store(url: str, *, pool_size: int = 4, busy_timeout_ms: int = 30_000,
               rejection_limits: RejectionLimits | None = None) -> Store:
    """The backend for ``url``: the only place that decides between them."""
    from shoptrack.store.urls import backend_of

    store: Store
    if backend_of(url) == "sqlite":
        from shoptrack.store.sqlite import SQLiteStore

        store = SQLiteStore(url, busy_timeout_ms=busy_timeout_ms)
    else:
        from shoptrack.store.postgres import PostgresStore

        store = PostgresStore(url, pool_size=pool_size)
    if rejection_limits is not None:
        store.rejection_limits = rejection_limits
    return store
