"""The date range picker: presets, custom dates, and what they mean in the app's time zone.

A range is two dates, inclusive, in the app's time zone (as the reports API takes them);
the URL carries ``range=<preset>`` or ``range=custom&from=YYYY-MM-DD&to=YYYY-MM-DD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

PRESETS = (
    ("today", "Today"), ("yesterday", "Yesterday"), ("7d", "Last 7 days"),
    ("30d", "Last 30 days"), ("month", "This month"), ("last_month", "Last month"),
    ("year", "This year"), ("custom", "Custom"),
)
DEFAULT = "7d"
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Range:
    preset: str
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def today_in(zone: tzinfo) -> date:
    return datetime.now(zone).date()


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def resolve(preset: str | None, start: str | None, end: str | None, zone: tzinfo) -> Range:
    """The range a URL asks for; an unknown preset or bad dates fall back to the default."""
    today = today_in(zone)
    preset = preset if preset in dict(PRESETS) else DEFAULT
    if preset == "custom":
        first, last = parse_date(start), parse_date(end)
        if first is None or last is None:
            preset = DEFAULT
        else:
            first, last = min(first, last), max(first, last)
            return Range("custom", max(first, last - timedelta(days=MAX_DAYS - 1)), last)
    if preset == "today":
        return Range(preset, today, today)
    if preset == "yesterday":
        day = today - timedelta(days=1)
        return Range(preset, day, day)
    if preset == "30d":
        return Range(preset, today - timedelta(days=29), today)
    if preset == "month":
        return Range(preset, today.replace(day=1), today)
    if preset == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return Range(preset, last.replace(day=1), last)
    if preset == "year":
        return Range(preset, today.replace(month=1, day=1), today)
    return Range("7d", today - timedelta(days=6), today)


def span(start: date, end: date) -> str:
    """Two dates as people write them: ``1–30 Oct 2026``, ``25 Nov – 1 Dec 2026``,
    ``28 Dec 2025 – 3 Jan 2026``, or ``1 Oct 2026`` for one day."""
    if start == end:
        return f"{start:%-d %b %Y}"
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%-d}–{end:%-d %b %Y}"
    if start.year == end.year:
        return f"{start:%-d %b} – {end:%-d %b %Y}"
    return f"{start:%-d %b %Y} – {end:%-d %b %Y}"


def bounds_ms(start: date, end: date, zone: tzinfo) -> tuple[int, int]:
    """[start of ``start``, start of the day after ``end``) in the zone, as Unix ms."""
    first = datetime.combine(start, time(), zone)
    after = datetime.combine(end + timedelta(days=1), time(), zone)
    return int(first.timestamp() * 1000), int(after.timestamp() * 1000)
