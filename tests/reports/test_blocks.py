"""Counts in blocks of days (64, 16 and 4) against the same counts read from the days alone.

The differential test's stream spans days, not months: here five months of a small shop
are sent through the real write path (every day summed, and so every block), then an
order placed in the first month is cancelled and a person erased (both change summed
blocks).  Every report over many ranges, and the weekly and monthly series, must equal
what the same database answers when ranges are read from day rows only.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from shoptrack.store import report_ranges
from tests.reports.conftest import Shop

START = date(2025, 11, 1)
DAYS = 150
# (first, last) day offsets: whole blocks of 64 days, of 16 and 4, and ragged edges.
RANGES = [(0, DAYS - 1), (3, 140), (17, 100), (64, 127), (1, 63), (40, 45), (30, 59),
          (77, 77), (5, 132)]
REPORTS = ("summary", "funnel", "products", "sources", "pages", "custom-events",
           "order-states")


def _day(k: int) -> str:
    return (START + timedelta(days=k)).isoformat()


def _send_months(shop: Shop) -> None:
    for k in range(DAYS):
        guest = f"g{k % 7}"
        shop.send(f"{_day(k)}T10:00:00", "link", guest=guest,
                  url=f"https://shop.example/c/{k % 4}",
                  referrer="https://www.google.com/" if k % 5 == 0 else None)
        shop.send(f"{_day(k)}T10:01:00", "view_product", guest=guest,
                  product_id=f"p{k % 6}", product_name=f"Product {k % 6}")
        if k % 3 == 0:
            shop.send(f"{_day(k)}T10:02:00", "add_to_cart", guest=guest,
                      product_id=f"p{k % 6}", qnt=1 + k % 2, price="4.50")
        if k % 4 == 0:
            shop.send(f"{_day(k)}T10:03:00", "custom", guest=guest, key=f"k{k % 3}")
        if k % 9 == 0:
            shop.send(f"{_day(k)}T10:04:00", "purchase", guest=guest, order_id=f"o{k}",
                      revenue=str(10 + k), items=[{"product_id": f"p{k % 6}", "qnt": 1,
                                                   "price": str(10 + k)}])
    # A day after the last: every day before it is summed, and so is every whole block.
    shop.send(f"{_day(DAYS + 2)}T10:00:00", "link", guest="late", url="https://shop.example/")


def _answers(shop: Shop, first: int, last: int) -> dict[str, Any]:
    params = {"from_": _day(first), "to": _day(last)}
    out = {name: shop.data(name, **params) for name in REPORTS}
    for interval in ("week", "month"):
        for metric in ("revenue", "orders", "page_views", "product_views", "events"):
            out[f"{metric}/{interval}"] = shop.data("timeseries", metric=metric,
                                                    interval=interval, **params)
    return out


def _same_from_days(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    for first, last in RANGES:
        with_blocks = _answers(shop, first, last)
        with monkeypatch.context() as patch:
            patch.setattr(report_ranges, "BLOCKS", ())  # ranges read from the day rows
            from_days = _answers(shop, first, last)
        assert with_blocks == from_days, (first, last)


def test_blocks_of_days_equal_their_days_after_late_changes(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    _send_months(shop)
    whole = shop.data("summary", from_=_day(0), to=_day(DAYS - 1))
    assert whole["orders"] == len(range(0, DAYS, 9)) and whole["page_views"] == DAYS
    _same_from_days(shop, monkeypatch)
    # Changes to days whose blocks are summed: an order of the first month cancelled,
    # a person erased (their views, adds and keys leave every block they were in).
    shop.send(f"{_day(DAYS + 2)}T11:00:00", "order_update", order_id="o9", state="cancelled")
    shop.erase("g3")
    after = shop.data("summary", from_=_day(0), to=_day(DAYS - 1))
    assert after["cancelled_orders"] == 1 and after["page_views"] < DAYS
    _same_from_days(shop, monkeypatch)
