"""The declared columns of each export, in order: what CSV's header and Parquet's schema say.

Each column is ``(name, kind)``; the kinds are:

* ``int``: a 64-bit integer (our own ids, counts);
* ``text``: a string (every id a shop sends: uids, product and order ids, and URLs...);
* ``json``: a JSON document (``properties``, ``info``, ``items``): JSON text in CSV and
  Parquet, the value itself in NDJSON;
* ``list``: a list of strings (a visitor's guest uids): JSON text in CSV;
* ``time``: ISO 8601 UTC in NDJSON and CSV, ``timestamp[ms, UTC]`` in Parquet;
* ``money``: a decimal string in NDJSON and CSV, ``decimal128(18, 4)`` in Parquet
  (amounts are kept to four places; quantities too).
"""

from __future__ import annotations

from typing import Literal

from shoptrack.store.contract import ExportKind

ColumnKind = Literal["int", "text", "json", "list", "time", "money"]
Column = tuple[str, ColumnKind]

COLUMNS: dict[ExportKind, tuple[Column, ...]] = {
    "events": (
        ("id", "int"), ("type", "text"), ("visitor_uid", "text"), ("guest_uid", "text"),
        ("properties", "json"), ("visitor_info", "json"), ("attributes", "json"),
        ("url", "text"), ("domain", "text"), ("host", "text"), ("path", "text"),
        ("title", "text"), ("referrer", "text"), ("message_id", "text"),
        ("received_at", "time"), ("client_ip", "text"), ("user_agent", "text"),
    ),
    "visitors": (
        ("id", "int"), ("visitor_uid", "text"), ("guest_uids", "list"), ("info", "json"),
        ("first_seen", "time"), ("last_seen", "time"), ("event_count", "int"),
        ("cart_updated_at", "time"),
    ),
    "orders": (
        ("id", "int"), ("order_id", "text"), ("revenue", "money"), ("state", "text"),
        ("items", "json"), ("created_at", "time"), ("updated_at", "time"),
        ("visitor_uid", "text"), ("visitor_id", "int"),
    ),
    "carts": (
        ("visitor_id", "int"), ("visitor_uid", "text"), ("product_id", "text"),
        ("qnt", "money"), ("price", "money"), ("product_name", "text"),
        ("product_url", "text"), ("product_image_url", "text"), ("updated_at", "time"),
    ),
}
