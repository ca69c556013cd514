"""Storage: the contract (:mod:`.base`), shared SQL (:mod:`.sql`), and one module a backend."""

from shoptrack.store.base import App, EventQuery, Outcome, Store, StoreUnavailable, open_store

__all__ = ["App", "EventQuery", "Outcome", "Store", "StoreUnavailable", "open_store"]
