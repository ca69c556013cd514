"""``pages``: page paths by views (``link`` events), distinct visitors, and entries (visits
that began there)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.reports.period import Period, RangeParams, Report, run_report, whole
from shoptrack.store.contract import App, Store


@dataclass(frozen=True, slots=True)
class PagesParams:
    limit: int = 100
    offset: int = 0
    range: RangeParams = field(default_factory=RangeParams)


class PageRow(BaseModel):
    path: str
    views: int
    visitors: int
    entries: int


class Pages(BaseModel):
    total: int
    pages: list[PageRow]


def pages(store: Store, app: App, params: PagesParams | None = None,
          now_ms: int | None = None) -> Report[Pages]:
    params = params or PagesParams()

    def compute(period: Period) -> Pages:
        pieces = whole(period, store.report_days_upto(app.id))
        views = {path: n for _, path, n, _ in store.report_counts(app.id, "page", pieces)}
        entries = store.report_entries(app.id, pieces)
        ranked = sorted(set(views) | set(entries),
                        key=lambda p: (-views.get(p, 0), -entries.get(p, 0), p))
        page = ranked[params.offset:params.offset + params.limit]
        people = {p: n for _, p, n in store.report_reach(app.id, "page", pieces, page)}
        return Pages(total=len(ranked), pages=[
            PageRow(path=p, views=views.get(p, 0), visitors=people.get(p, 0),
                    entries=entries.get(p, 0)) for p in page])

    return run_report(app, params.range, compute, now_ms)
