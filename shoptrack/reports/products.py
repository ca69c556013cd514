"""``products``: every product seen or sold in the period, sorted and paged (no "Others").

``views`` and ``adds`` (quantity added) come from the events; ``purchased``
(quantity), ``orders`` and ``revenue`` from the orders placed in the period as
they stand now (cancelled ones left out); ``viewers`` are distinct people;
``view_to_purchase`` is ``orders ÷ viewers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from shoptrack.money import format_money, format_quantity
from shoptrack.reports.period import (
    Period,
    RangeParams,
    Report,
    ratio,
    run_report,
    whole,
)
from shoptrack.store.contract import App, Store

Sort = Literal["revenue", "views", "adds", "purchases"]
SORTS: tuple[Sort, ...] = ("revenue", "views", "adds", "purchases")


@dataclass(frozen=True, slots=True)
class ProductsParams:
    sort: Sort = "revenue"
    limit: int = 50
    offset: int = 0
    range: RangeParams = field(default_factory=RangeParams)


class ProductRow(BaseModel):
    product_id: str
    name: str | None
    views: int
    viewers: int
    adds: int | float
    purchased: int | float
    orders: int
    revenue: str
    view_to_purchase: float


class Products(BaseModel):
    total: int
    products: list[ProductRow]


def products(store: Store, app: App, params: ProductsParams | None = None,
             now_ms: int | None = None) -> Report[Products]:
    params = params or ProductsParams()

    def compute(period: Period) -> Products:
        pieces = whole(period, store.report_days_upto(app.id))
        # product id -> [views, adds (units), purchased (units), orders, revenue (units)]
        figures: dict[str, list[int]] = {}
        for _, pid, n, _ in store.report_counts(app.id, "view", pieces):
            figures.setdefault(pid, [0, 0, 0, 0, 0])[0] += n
        for _, pid, _, qty in store.report_counts(app.id, "add", pieces):
            figures.setdefault(pid, [0, 0, 0, 0, 0])[1] += qty
        for _, pid, orders, qty in store.report_counts(app.id, "sold", pieces):
            entry = figures.setdefault(pid, [0, 0, 0, 0, 0])
            entry[2] += qty
            entry[3] += orders
        for _, pid, _, revenue in store.report_counts(app.id, "sold_revenue", pieces):
            figures.setdefault(pid, [0, 0, 0, 0, 0])[4] += revenue
        column = {"views": 0, "adds": 1, "purchases": 2, "revenue": 4}[params.sort]
        ranked = sorted(figures.items(), key=lambda kv: (-kv[1][column], kv[0]))
        page = ranked[params.offset:params.offset + params.limit]
        ids = [pid for pid, _ in page]
        viewers = {pid: n for _, pid, n in store.report_reach(app.id, "product", pieces, ids)}
        names = store.report_product_names(app.id, ids)
        rows = [ProductRow(
            product_id=pid, name=names.get(pid), views=f[0], viewers=viewers.get(pid, 0),
            adds=format_quantity(f[1]), purchased=format_quantity(f[2]), orders=f[3],
            revenue=format_money(f[4]) or "0.00",
            view_to_purchase=ratio(f[3], viewers.get(pid, 0))) for pid, f in page]
        return Products(total=len(ranked), products=rows)

    return run_report(app, params.range, compute, now_ms)
