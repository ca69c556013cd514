"""``custom-events``: per custom event key, ``count``, distinct ``visitors``, and whether the
key is registered (``shoptrack apps events add``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from shoptrack.reports.period import Period, RangeParams, Report, run_report, whole
from shoptrack.store.contract import App, Store


@dataclass(frozen=True, slots=True)
class CustomEventsParams:
    range: RangeParams = field(default_factory=RangeParams)


class CustomEventRow(BaseModel):
    key: str
    count: int
    visitors: int
    registered: bool


class CustomEvents(BaseModel):
    keys: list[CustomEventRow]


def custom_events(store: Store, app: App, params: CustomEventsParams | None = None,
                  now_ms: int | None = None) -> Report[CustomEvents]:
    def compute(period: Period) -> CustomEvents:
        pieces = whole(period, store.report_days_upto(app.id))
        counts = {key: n for _, key, n, _ in store.report_counts(app.id, "custom", pieces)}
        people = {key: n for _, key, n in store.report_reach(app.id, "custom", pieces)}
        registered = store.report_event_keys(app.id)
        return CustomEvents(keys=[
            CustomEventRow(key=k, count=counts.get(k, 0), visitors=people.get(k, 0),
                           registered=k in registered)
            for k in sorted(set(counts), key=lambda k: (-counts[k], k))])

    return run_report(app, (params or CustomEventsParams()).range, compute, now_ms)
