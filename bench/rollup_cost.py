"""What the report rollups cost the write path: CPU per event, rollups off and on.

    .venv/bin/python bench/rollup_cost.py [--backend sqlite|postgresql|both]
        [--rounds 6] [--events 2048] [--batch 64] [--profile out.prof]

``Store.apply_batch`` of batches of 64 events of the bench's mix (the mix of
bench/convead.lua, written here in Python so that no wrk is needed: mostly
``link`` and ``view_product``, cart changes, a few purchases, custom events and
log-ins of 256 browsing sessions), in-process, on two fresh databases side by
side: one where the write path's ``Rollups`` is replaced by a stand-in that
does nothing, one with the real rollups.  Rounds alternate between the two, so
that the shared machine's noise falls on both alike; the figures are the
median and range of the rounds, in CPU microseconds of this process per event
(on PostgreSQL that is the client's share only; the server's is not counted).

``--profile`` writes a cProfile of the rounds with rollups on.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from stores import DEFAULT_POSTGRES_URL, BenchDatabase, PostgresDatabase, SQLiteDatabase  # noqa: E402

from shoptrack.protocol import Event, validate_event  # noqa: E402
from shoptrack.store import batch  # noqa: E402

PRODUCTS, CUSTOMERS, SESSIONS = 5000, 50000, 256
NAMES = ["Product", "Running shoes", "Wool socks 3/pack", "Ботинки \"Winter\" 42/43",
         "Куртка", "T-shirt — blue", "Backpack 25l", "Gift card"]
TITLES = ["Home", "Shoes — page 2", "Sale", "Каталог", "Cart", "Delivery & returns"]


class NoRollups:
    """The write path's rollups switched off: every call does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class Traffic:
    """bench/convead.lua's sessions and mix, as event objects for ``validate_event``."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0
        self.orders = 0
        self.sessions = [self._session() for _ in range(SESSIONS)]

    def _session(self) -> dict[str, Any]:
        self.serial += 1
        return {"guest": f"g{self.serial}", "visitor": None, "info": None, "cart": [],
                "left": self.rng.randint(5, 25)}

    @staticmethod
    def _price(pid: int) -> str:
        return f"{5 + pid % 190}.{pid % 100:02d}"

    def _items(self, cart: list[int]) -> list[dict[str, Any]]:
        return [{"product_id": pid, "qnt": 1, "price": float(self._price(pid))} if pid % 2 == 0
                else {"product_id": str(pid), "qnt": "2", "price": self._price(pid)}
                for pid in cart]

    def event(self) -> dict[str, Any]:
        rng = self.rng
        k = rng.randrange(SESSIONS)
        s = self.sessions[k]
        r, pid = rng.randint(1, 100), rng.randint(1, PRODUCTS)
        etype, props = "link", {}
        url, path, title = "http://shop.example.com", None, None
        if r <= 46:
            t = rng.randrange(len(TITLES))
            url, title = "http://shop.example.com/catalog", TITLES[t]
            path = f"/catalog/{t + 1}?page={rng.randint(1, 9)}"
        elif r <= 78:
            etype = "view_product"
            props = {"product_id": str(pid), "product_name": NAMES[pid % len(NAMES)],
                     "product_url": f"http://shop.example.com/p/{pid}",
                     "category_id": str(pid % 40), "price": self._price(pid)}
        elif r <= 87:
            etype = "add_to_cart"
            s["cart"].append(pid)
            props = {"product_id": str(pid), "qnt": "1", "price": self._price(pid),
                     "product_name": NAMES[pid % len(NAMES)]}
        elif r <= 90:
            if s["cart"]:
                pid = s["cart"].pop(rng.randrange(len(s["cart"])))
            etype, props = "remove_from_cart", {"product_id": str(pid), "qnt": 1}
        elif r <= 94:
            if len(s["cart"]) > 3:
                s["cart"] = s["cart"][:2]
            etype, props = "update_cart", {"items": self._items(s["cart"])}
        elif r <= 96:
            if not s["cart"]:
                s["cart"] = [pid, rng.randint(1, PRODUCTS)]
            self.orders += 1
            revenue = sum(float(self._price(p)) * (1 if p % 2 == 0 else 2) for p in s["cart"])
            etype = "purchase"
            props = {"order_id": f"o{self.orders}", "revenue": round(revenue, 2),
                     "items": self._items(s["cart"]), "state": "new"}
            s["cart"] = []
        elif r <= 98:
            etype, props = "custom", {"key": "newsletter_signup", "source": "footer"}
        else:
            if s["visitor"] is None:
                c = rng.randint(1, CUSTOMERS)
                s["visitor"] = f"cust{c}"
                s["info"] = {"first_name": "Olga", "email": f"c{c}@example.com",
                             "language": "ru"}
            url, title, path = "http://shop.example.com/account", "My account", "/account"
        obj: dict[str, Any] = {"type": etype, "guest_uid": s["guest"], "url": url,
                               "domain": "shop.example.com", "host": "shop.example.com",
                               "properties": props}
        if path:
            obj["path"], obj["title"] = path, title
        if s["visitor"]:
            obj["visitor_uid"], obj["visitor_info"] = s["visitor"], s["info"]
        s["left"] -= 1
        if s["left"] <= 0:
            self.sessions[k] = self._session()
        return obj

    def events(self, n: int, app_id: int, start_ms: int) -> list[Event]:
        out = []
        for i in range(n):
            ev = validate_event(self.event())
            ev.app_id, ev.received_at, ev.client_ip = app_id, start_ms + i * 50, "127.0.0.1"
            out.append(ev)
        return out


def _round(store: Any, events: list[Event], size: int, rollups: bool,
           profiler: cProfile.Profile | None) -> float:
    real = batch.Rollups
    if not rollups:
        batch.Rollups = NoRollups  # type: ignore[assignment,misc]
    try:
        if profiler is not None:
            profiler.enable()
        cpu = time.process_time()
        for i in range(0, len(events), size):
            store.apply_batch(events[i:i + size])
        cpu = time.process_time() - cpu
        if profiler is not None:
            profiler.disable()
    finally:
        batch.Rollups = real  # type: ignore[misc]
    return 1e6 * cpu / len(events)


def run(backend: str, rounds: int, n: int, size: int, postgres_url: str,
        profile: str | None) -> dict[str, Any]:
    from shoptrack.store import open_store

    folder = Path(tempfile.mkdtemp(prefix="rollup_cost_"))
    dbs: dict[bool, BenchDatabase] = {}
    for mode in (False, True):
        dbs[mode] = (SQLiteDatabase(folder, f"r{int(mode)}") if backend == "sqlite"
                     else PostgresDatabase(postgres_url, f"r{int(mode)}"))
    figures: dict[bool, list[float]] = {False: [], True: []}
    profiler = cProfile.Profile() if profile else None
    try:
        apps = {mode: int(db.register_app()["id"]) for mode, db in dbs.items()}
        stores = {mode: open_store(db.url) for mode, db in dbs.items()}
        start = int(time.time() * 1000) - 3_600_000
        traffic = {mode: Traffic(1) for mode in dbs}
        try:
            for r in range(rounds + 1):  # round 0 warms up
                for mode in (False, True) if r % 2 else (True, False):
                    events = traffic[mode].events(n, apps[mode], start + r * n * 50)
                    us = _round(stores[mode], events, size, mode,
                                profiler if mode and r else None)
                    if r:
                        figures[mode].append(us)
        finally:
            for store in stores.values():
                store.close()
    finally:
        for db in dbs.values():
            db.drop()
    if profiler is not None and profile:
        profiler.dump_stats(profile)

    def summary(values: list[float]) -> str:
        return (f"{statistics.median(values):6.1f} us/event"
                f" ({min(values):.0f}-{max(values):.0f})")

    off, on = figures[False], figures[True]
    print(f"{backend:10} off {summary(off)}   on {summary(on)}"
          f"   +{statistics.median(on) - statistics.median(off):.0f} us", flush=True)
    return {"backend": backend, "off": off, "on": on}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="both", choices=("sqlite", "postgresql", "both"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--events", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        run(backend, args.rounds, args.events, args.batch, args.postgres_url,
            args.profile and f"{args.profile}.{backend}")


if __name__ == "__main__":
    main()
