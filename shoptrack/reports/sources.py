"""``sources``: visits by channel, and below each channel by referrer domain and UTM tags.

A visit's source is its first event's referrer and page URL
(:mod:`shoptrack.channels`); an order counts for the visit it was placed in
(the buyer's latest visit begun by then); cancelled orders are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.channels import CHANNELS
from shoptrack.money import format_money
from shoptrack.reports.period import Period, RangeParams, Report, run_report, whole
from shoptrack.store.contract import App, Store


@dataclass(frozen=True, slots=True)
class SourcesParams:
    range: RangeParams = field(default_factory=RangeParams)


class SourceDetail(BaseModel):
    referrer_domain: str | None
    utm_source: str | None
    utm_campaign: str | None
    visits: int
    visitors: int
    orders: int
    revenue: str


class Channel(BaseModel):
    channel: str
    visits: int
    visitors: int
    orders: int
    revenue: str
    sources: list[SourceDetail]


class Sources(BaseModel):
    channels: list[Channel]


def sources(store: Store, app: App, params: SourcesParams | None = None,
            now_ms: int | None = None) -> Report[Sources]:
    def compute(period: Period) -> Sources:
        parts = whole(period, store.report_days_upto(app.id))
        rows, people = store.report_sources(app.id, period.start_ms, period.end_ms, parts)
        channels = []
        for name in CHANNELS:
            mine = [r for r in rows if r.channel == name]
            if not mine:
                continue
            mine.sort(key=lambda r: (-r.visits, -r.revenue, r.referrer_domain or "",
                                     r.utm_source or "", r.utm_campaign or ""))
            channels.append(Channel(
                channel=name, visits=sum(r.visits for r in mine), visitors=people.get(name, 0),
                orders=sum(r.orders for r in mine),
                revenue=format_money(sum(r.revenue for r in mine)) or "0.00",
                sources=[SourceDetail(
                    referrer_domain=r.referrer_domain, utm_source=r.utm_source,
                    utm_campaign=r.utm_campaign, visits=r.visits, visitors=r.visitors,
                    orders=r.orders, revenue=format_money(r.revenue) or "0.00") for r in mine]))
        channels.sort(key=lambda c: -c.visits)
        return Sources(channels=channels)

    return run_report(app, (params or SourcesParams()).range, compute, now_ms)
