"""Ranges of days in an app's time zone, and how they map onto the UTC rollups.

A :class:`Period` is ``start`` to ``end``, both dates inclusive, in the app's
zone: from the first instant of ``start`` to the first instant of the day after
``end`` (so a daylight-saving day is 23 or 25 hours long, and a zone such as
+05:30 or +05:45 cuts UTC where it really does).  The rollups are kept in UTC
15-minute slots and UTC days (:mod:`shoptrack.store.rollups`); :func:`pieces`
covers any span with whole UTC days plus at most two edges of slots.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shoptrack.errors import BadRequest
from shoptrack.store.contract import App
from shoptrack.store.report_reads import Pieces, Spans
from shoptrack.store.rollups import DAY_MS, SLOT_MS

DEFAULT_DAYS = 30
MAX_DAYS = 3700
Compare = Literal["previous", "year"]
Interval = Literal["hour", "day", "week", "month"]
SLOTS_PER_DAY = DAY_MS // SLOT_MS
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RangeParams:
    """What every report takes: ``start``/``end`` dates (``YYYY-MM-DD``, inclusive, the
    app's zone; default the last 30 days) and ``compare``."""

    start: str | date | None = None
    end: str | date | None = None
    compare: Compare | None = None


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive
    zone: ZoneInfo

    @property
    def start_ms(self) -> int:
        return midnight_ms(self.start, self.zone)

    @property
    def end_ms(self) -> int:
        """The first instant after the period."""
        return midnight_ms(self.end + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1),
                      self.zone)

    def year_earlier(self) -> Period:
        return Period(_year_back(self.start), _year_back(self.end), self.zone)


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def midnight_ms(day: date, zone: ZoneInfo) -> int:
    """The first instant of ``day`` in ``zone``, in Unix ms.  Where midnight does not exist
    (a zone that springs forward at 00:00) that is the instant the day begins."""
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


def zone_of(app: App) -> ZoneInfo:
    return ZoneInfo(app.settings.timezone)


def _date(value: str | date | None, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad(value, field)
    except ValueError:
        return _bad(value, field)


def _bad(value: str, field: str) -> date:
    raise BadRequest(f"{field} must be a date YYYY-MM-DD, got {value[:40]!r}",
                     code="invalid_field", field=field)


def resolve(app: App, params: RangeParams, now_ms: int | None = None
            ) -> tuple[Period, Period | None]:
    """The period the parameters name (BadRequest naming ``from``/``to`` otherwise) and
    the one to compare it with, if asked."""
    zone = zone_of(app)
    now = datetime.now(UTC) if now_ms is None else datetime.fromtimestamp(now_ms / 1000, UTC)
    today = now.astimezone(zone).date()
    end = _date(params.end, "to")
    start = _date(params.start, "from")
    if end is None:
        end = today if start is None else start + timedelta(days=DEFAULT_DAYS - 1)
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise BadRequest(f"from ({start}) is after to ({end})", code="invalid_field",
                         field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(f"a range is at most {MAX_DAYS} days", code="invalid_field",
                         field="to")
    if start.year < 1971 or end.year > 9000:
        raise BadRequest("dates must lie between 1971 and 9000", code="invalid_field",
                         field="from" if start.year < 1971 else "to")
    period = Period(start, end, zone)
    other = None
    if params.compare == "previous":
        other = period.previous()
    elif params.compare == "year":
        other = period.year_earlier()
    return period, other


def pieces(spans: Spans, upto: int) -> list[tuple[int, int, int, int]]:
    """``(i, grain, lo, hi)`` bucket ranges covering each span ``(i, start_ms, end_ms)``:
    its whole UTC days up to day ``upto`` (the last one summed, see
    :mod:`shoptrack.store.days`) at grain 1, the rest in 15-minute slots at grain 0."""
    out: list[tuple[int, int, int, int]] = []
    for i, start, end in spans:
        lo = start // SLOT_MS
        hi = -(-end // SLOT_MS)
        first_day = -(-lo // SLOTS_PER_DAY)
        last_day = min(hi // SLOTS_PER_DAY, upto + 1)
        if first_day < last_day:
            out.append((i, 1, first_day, last_day))
            if lo < first_day * SLOTS_PER_DAY:
                out.append((i, 0, lo, first_day * SLOTS_PER_DAY))
            if last_day * SLOTS_PER_DAY < hi:
                out.append((i, 0, last_day * SLOTS_PER_DAY, hi))
        elif lo < hi:
            out.append((i, 0, lo, hi))
    return out


def whole(period: Period, upto: int) -> Pieces:
    """The pieces of the period as one interval (``i`` 0)."""
    return pieces([(0, period.start_ms, period.end_ms)], upto)


def intervals(period: Period, interval: Interval) -> list[tuple[str, int, int]]:
    """``(label, start_ms, end_ms)`` of each hour, day, week (from Monday) or month of the
    period, the first and last cut to it; a label is the local start (ISO 8601)."""
    zone = period.zone
    if interval == "hour":
        out = []
        at, end = period.start_ms, period.end_ms
        while at < end:
            local = datetime.fromtimestamp(at / 1000, zone)
            out.append((local.isoformat(timespec="minutes"), at, min(at + 3_600_000, end)))
            at += 3_600_000
        return out
    starts = [period.start]
    day = period.start + timedelta(days=1)
    while day <= period.end:
        if (interval == "day" or (interval == "week" and day.weekday() == 0)
                or (interval == "month" and day.day == 1)):
            starts.append(day)
        day += timedelta(days=1)
    bounds = [*starts, period.end + timedelta(days=1)]
    return [(first.isoformat(), midnight_ms(first, zone), midnight_ms(after, zone))
            for first, after in zip(bounds, bounds[1:], strict=False)]


class Comparison(BaseModel, Generic[T]):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    data: T


class Report(BaseModel, Generic[T]):
    """Every report's answer: the period, the app's zone and currency, the data, and the
    same for the compared period (null unless ``compare`` was asked)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    timezone: str
    currency: str
    data: T
    compare: Comparison[T] | None = None


def envelope(app: App, period: Period, other: Period | None, data: T,
             other_data: T | None) -> Report[T]:
    compare = None
    if other is not None and other_data is not None:
        compare = Comparison[T](from_=other.start, to=other.end, data=other_data)
    return Report[T](from_=period.start, to=period.end, timezone=app.settings.timezone,
                     currency=app.settings.currency, data=data, compare=compare)


def spans_of(rows: Sequence[tuple[str, int, int]]) -> list[tuple[int, int, int]]:
    return [(i, start, end) for i, (_, start, end) in enumerate(rows)]


def run_report(app: App, params: RangeParams, compute: Callable[[Period], T],
               now_ms: int | None = None) -> Report[T]:
    """``compute`` for the period the parameters name, and for the compared one."""
    period, other = resolve(app, params, now_ms)
    return envelope(app, period, other, compute(period),
                    None if other is None else compute(other))


def ratio(part: int, whole_: int) -> float:
    """``part / whole_`` to four places; 0 when ``whole_`` is 0."""
    return round(part / whole_, 4) if whole_ else 0.0
