"""Reports: one module a report, each a function ``(store, app, params) -> Report``.

Called the same way by the HTTP layer (``shoptrack.web.reports``) and from
Python, e.g. a test or a benchmark::

    from shoptrack.reports import RangeParams, summary, products
    from shoptrack.store import open_store

    store = open_store("sqlite:///data/shoptrack.db")
    app = store.app_by_key("APPKEY")
    answer = summary.summary(store, app, summary.SummaryParams(
        RangeParams(start="2026-11-01", end="2026-11-30", compare="previous")))
    answer.data.revenue                       # "1234.50"
    answer.model_dump(by_alias=True, mode="json")   # the HTTP answer

Each takes ``now_ms=`` too (what "today" and "abandoned" mean; default the
clock).  Ranges and time zones: :mod:`.period`.  The figures come from the
store's report reads (:mod:`shoptrack.store.report_reads`), never from a
backend decision here.  What each number means: docs/reports.md.
"""

from shoptrack.reports import (
    abandoned_carts,
    custom_events,
    funnel,
    order_states,
    pages,
    products,
    sources,
    summary,
    timeseries,
)
from shoptrack.reports.period import RangeParams, Report

__all__ = ["RangeParams", "Report", "abandoned_carts", "custom_events", "funnel",
           "order_states", "pages", "products", "sources", "summary", "timeseries"]
