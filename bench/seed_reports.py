"""A year of a shop, straight into the tables, for the reports benchmark (bench/reports.py).

``seed_year(db, app_id, events)`` fills an empty app with ``events`` events over the
365 days that end at ``end_ms`` (default: today's UTC midnight), ``events // 10``
visitors, one order for one visitor in ten (so 100 k orders at 10 M events) and a
cart for one in eight; products are ``1`` .. ``4999``.  Rows follow the schema and what
the write path stores, as ``seed.py``'s do; unlike there, a visitor's ten events come
in two visits of five events each (consecutive ids, so a few seconds apart at 10 M
events), the second about 20 days after the first, and event ids follow time, as
they do when events are received.  The first event of a visit carries the visit's
source: a third direct, then search, social, referral sites, e-mail and paid
campaigns (UTM in the URL).  Orders: 1 to 3 lines, states ``new`` / ``paid`` /
``shipped`` / ``cancelled`` (8 %) / ``refunded``, placed at the last event of the
buyer's first visit.

The report rollups are **not** written here: the benchmark runs the rebuild
(``shoptrack reports rebuild``, the write path's own :class:`Rollups`) afterwards.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from seed import (
    CART_COLUMNS,
    GUEST_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_PROPERTIES,
    VISITOR_COLUMNS,
    derive_columns,
    guest_uid,
    load_events_postgres,
    load_events_sqlite,
    visitor_uid,
)
from stores import BenchDatabase, PostgresDatabase, SQLiteDatabase

DAY_MS = 86_400_000
SPAN_MS = 365 * DAY_MS
EVENTS_PER_VISITOR = 10
EVENTS_PER_VISIT = 5
SECOND_VISIT_DAYS = 20
CUSTOM_KEYS = ("newsletter_signup", "coupon_applied", "chat_opened", "wishlist_add")
REGISTERED_KEYS = ("newsletter_signup", "coupon_applied")
STATES = ("new", "paid", "paid", "shipped", "shipped", "paid", "new", "shipped", "paid",
          "refunded", "shipped", "paid")


def today_ms() -> int:
    now = datetime.now(UTC)
    return int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp() * 1000)


# Event i (0-based) of N: time t0 + i * SPAN / N; visit s = i // 5; visitor
#   s even: s // 2 (first visits, in visitor order),
#   s odd:  (s // 2 - lag) mod n (second visits, `lag` visitors, about 20 days, later).
# Only integers computed here are formatted into this SQL.
EVENTS_SQL = """
INSERT INTO events (id, app_id, type, visitor_uid, guest_uid, visitor_id, properties,
    visitor_info, attributes, url, domain, host, path, title, referrer, custom_key,
    message_id, received_at, client_ip, user_agent)
SELECT i + 1, {app_id}, type,
    CASE WHEN v % 3 = 0 AND i % 2 = 0 THEN 'sv' || v END, 'sg' || v, v + 1,
    CASE type
""" + PRODUCT_PROPERTIES + """\
      WHEN 'purchase' THEN format('{{"order_id":"se-%s","revenue":%s.%s,"items":[{{"product_id":'
          || '"%s","qnt":1,"price":"%s.%s","product_name":"Product %s"}}],"state":"new"}}',
          i, 5 + pid % 190, 10 + pid % 90, pid, 5 + pid % 190, 10 + pid % 90, pid)
      WHEN 'custom' THEN format('{{"key":"%s","source":"footer"}}', ckey)
      ELSE '{{}}' END,
    '{{}}', '{{}}',
    CASE WHEN type = 'view_product' THEN 'http://shop.example.com/p/' || pid
         ELSE 'http://shop.example.com/catalog/' || ((i * 7) % 997) END
      || CASE WHEN i % 5 = 0 AND src >= 85 THEN
           CASE WHEN src < 93 THEN '?utm_source=newsletter&utm_medium=email&utm_campaign=week'
                                   || (i % 12)
                ELSE '?utm_source=google&utm_medium=cpc&utm_campaign=brand' || (i % 3) END
         ELSE '' END,
    'shop.example.com', 'shop.example.com',
    CASE WHEN type = 'view_product' THEN '/p/' || pid ELSE '/catalog/' || ((i * 7) % 997) END,
    CASE i % 3 WHEN 0 THEN 'Home' WHEN 1 THEN 'Catalog' ELSE 'Sale' END,
    CASE WHEN i % 5 = 0 THEN
      CASE WHEN src < 35 THEN NULL WHEN src < 65 THEN 'https://www.google.com/'
           WHEN src < 75 THEN 'https://www.facebook.com/'
           WHEN src < 85 THEN 'https://blog' || (src % 20) || '.example.org/post'
           ELSE NULL END
      ELSE 'http://shop.example.com/catalog/' || (((i - 1) * 7) % 997) END,
    CASE WHEN type = 'custom' THEN ckey END,
    NULL, {t0} + (i * {span}) / {total}, '127.0.0.1', 'bench-seed'
FROM (
  SELECT i, v, pid, src,
    CASE WHEN r < 46 THEN 'link' WHEN r < 78 THEN 'view_product' WHEN r < 87 THEN 'add_to_cart'
         WHEN r < 90 THEN 'remove_from_cart' WHEN r < 94 THEN 'update_cart'
         WHEN r < 96 THEN 'purchase' WHEN r < 98 THEN 'custom' ELSE 'update_info' END AS type,
    CASE i % 4 WHEN 0 THEN '{k0}' WHEN 1 THEN '{k1}' WHEN 2 THEN '{k2}' ELSE '{k3}' END AS ckey
  FROM (
    SELECT i,
      CASE WHEN (i / 5) % 2 = 0 THEN i / 10 ELSE (i / 10 - {lag} + {n}) % {n} END AS v,
      ((i * 2654435761) % 1000003) % 100 AS r,
      (((i / 5) * 2654435761) % 1000003) % 100 AS src,
      (i * 40503) % 4999 + 1 AS pid
    FROM {series}
  ) AS numbered
) AS typed
"""
SQLITE_SERIES = ("(WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq"
                 " WHERE i + 1 < {stop}) SELECT i FROM seq) AS series")
POSTGRES_SERIES = "generate_series(0::bigint, {stop}::bigint - 1) AS series(i)"


class Year:
    """Where each visitor's events fall (the same arithmetic as :data:`EVENTS_SQL`)."""

    def __init__(self, events: int, end_ms: int) -> None:
        if events % EVENTS_PER_VISITOR or events <= 0:
            raise ValueError("seed a positive multiple of 10 events")
        self.total = events
        self.visitors = events // EVENTS_PER_VISITOR
        self.lag = max(1, self.visitors * SECOND_VISIT_DAYS // 365)
        self.t0 = end_ms - SPAN_MS

    def at(self, i: int) -> int:
        return self.t0 + (i * SPAN_MS) // self.total

    def visits(self, v: int) -> tuple[int, int]:
        """The first event number of the visitor's first and second visit."""
        second = 2 * ((v + self.lag) % self.visitors) + 1
        return 10 * v, 5 * second

    def sql(self, series: str, app_id: int) -> str:
        return EVENTS_SQL.format(app_id=int(app_id), t0=self.t0, span=SPAN_MS, total=self.total,
                                 lag=self.lag, n=self.visitors,
                                 series=series.format(stop=self.total),
                                 **{f"k{j}": k for j, k in enumerate(CUSTOM_KEYS)})


def _order_items(v: int) -> tuple[str, int]:
    """The items JSON and revenue (units of 1/10,000) of visitor v's order."""
    items = []
    revenue = 0
    for k in range(1 + v % 3):
        pid = (v * 7 + k * 1013) % 4999 + 1
        qnt = 1 + (v + k) % 2
        cents = (5 + pid % 190) * 100 + 10 + pid % 90
        items.append(f'{{"product_id":"{pid}","qnt":{qnt},"price":"{cents // 100}.'
                     f'{cents % 100:02d}","product_name":"Product {pid}"}}')
        revenue += qnt * cents * 100
    return "[" + ",".join(items) + "]", revenue


def small_tables(year: Year, app_id: int) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {"visitors": [], "guests": [], "cart_lines": [],
                                              "orders": []}
    for v in range(year.visitors):
        vid = v + 1
        first_visit, second_visit = year.visits(v)
        times = (year.at(first_visit), year.at(first_visit + 4), year.at(second_visit),
                 year.at(second_visit + 4))
        first, last = min(times), max(times)
        if v % 3 == 0:
            info = f'{{"email":"v{v}@example.com","first_name":"Anna","phone":"+7900{v:07d}"}}'
        else:
            info = "{}"
        cart_at = last if v % 8 == 0 else None
        out["visitors"].append((vid, app_id, visitor_uid(v), info, first, last,
                                EVENTS_PER_VISITOR, cart_at))
        out["guests"].append((app_id, guest_uid(v), vid, first))
        if v % 7 == 0:
            out["guests"].append((app_id, guest_uid(v) + "b", vid, last))
        if cart_at is not None:
            for k in range(1 + v % 3):
                pid = (v * 11 + k * 577) % 4999 + 1
                out["cart_lines"].append((vid, str(pid), 10_000 * (1 + k % 2), 990_000,
                                          f"Product {pid}", f"http://shop.example.com/p/{pid}",
                                          None, cart_at))
        if v % 10 == 0:
            items, revenue = _order_items(v)
            state = "cancelled" if v % 100 < 8 else STATES[(v // 10) % len(STATES)]
            placed = times[1]
            updated = placed + (DAY_MS if state != "new" else 0)
            out["orders"].append((app_id, f"so{v}", vid, revenue, state, items, placed,
                                  updated))
    return out


_COLUMNS = {"visitors": VISITOR_COLUMNS, "guests": GUEST_COLUMNS, "cart_lines": CART_COLUMNS,
            "orders": ORDER_COLUMNS}


def seed_year(db: BenchDatabase, app_id: int, events: int, end_ms: int | None = None
              ) -> dict[str, Any]:
    """Fill the (empty) app; returns the layout (first day, sizes) and the seconds taken."""
    year = Year(events, today_ms() if end_ms is None else end_ms)
    began = time.monotonic()
    tables = small_tables(year, app_id)
    keys = [(app_id, key, key.replace("_", " ").capitalize(), year.t0) for key in REGISTERED_KEYS]
    if isinstance(db, SQLiteDatabase):
        _seed_sqlite(db, tables, year.sql(SQLITE_SERIES, app_id), keys)
    elif isinstance(db, PostgresDatabase):
        _seed_postgres(db, tables, year.sql(POSTGRES_SERIES, app_id), keys)
    else:
        raise TypeError(db)
    return {"events": events, "visitors": year.visitors, "orders": len(tables["orders"]),
            "carts": sum(1 for v in tables["visitors"] if v[7] is not None),
            "first_ms": year.t0, "end_ms": year.t0 + SPAN_MS,
            "seed_seconds": round(time.monotonic() - began, 1)}


def _seed_sqlite(db: SQLiteDatabase, tables: dict[str, list[tuple[Any, ...]]], events_sql: str,
                 keys: list[tuple[Any, ...]]) -> None:
    conn = db.connect(readonly=False)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -400000")
        conn.execute("BEGIN")
        for table, rows in tables.items():
            columns = _COLUMNS[table]
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)})"
                             f" VALUES ({', '.join('?' * len(columns))})", rows)
        conn.executemany("INSERT INTO app_event_keys (app_id, key, title, created_at)"
                         " VALUES (?, ?, ?, ?)", keys)
        load_events_sqlite(conn, events_sql)
        derive_columns(conn)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
        # No ANALYZE: a shop's database has no statistics (the store never gathers them
        # on SQLite), so neither does the benchmark's.
    finally:
        conn.close()


def _seed_postgres(db: PostgresDatabase, tables: dict[str, list[tuple[Any, ...]]],
                   events_sql: str, keys: list[tuple[Any, ...]]) -> None:
    with db.connect() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        with conn.transaction(), conn.cursor() as cur:
            for table, rows in tables.items():
                with cur.copy(f"COPY {table} ({', '.join(_COLUMNS[table])}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.executemany("INSERT INTO app_event_keys (app_id, key, title, created_at)"
                            " VALUES (%s, %s, %s, %s)", keys)
            load_events_postgres(cur, events_sql)
            derive_columns(cur)
            for table in ("visitors", "events", "orders"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                            f" (SELECT MAX(id) FROM {table}))")
        for table in ("visitors", "guests", "events", "orders", "cart_lines"):
            conn.execute(f"ANALYZE {table}")
