"""How the dashboard shows money, counts and moments: in the app's currency and time zone."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shoptrack.store.contract import App

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
_SUFFIXES = {"RUB": "₽", "UAH": "₴", "KZT": "₸", "BYN": "Br", "PLN": "zł"}


def app_zone(app: App) -> tzinfo:
    """The app's time zone (its ``timezone`` setting, an IANA name); UTC when unset."""
    name = getattr(app.settings, "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def app_currency(app: App) -> str:
    return str(getattr(app.settings, "currency", None) or "USD").upper()


def _moment(value: str | int | None) -> datetime | None:
    """A stored moment: ISO 8601 UTC text (``...Z``) or Unix milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Formats:
    """Formatting for one app's pages (handed to templates as ``fmt``)."""

    zone: tzinfo
    currency: str

    @classmethod
    def of(cls, app: App) -> Formats:
        return cls(app_zone(app), app_currency(app))

    def money(self, value: str | Decimal | int | None) -> str:
        if value is None or value == "":
            return "–"
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        text = f"{abs(amount):,.2f}"
        sign = "−" if amount < 0 else ""
        if self.currency in _SYMBOLS:
            return f"{sign}{_SYMBOLS[self.currency]}{text}"
        return f"{sign}{text} {_SUFFIXES.get(self.currency, self.currency)}"

    @staticmethod
    def count(value: int | float | str | None) -> str:
        if value is None:
            return "–"
        number = float(value)
        return f"{int(number):,}" if number == int(number) else f"{number:,.2f}"

    @staticmethod
    def percent(value: float | str | None) -> str:
        """A ratio (0.031) as ``3.1 %``."""
        if value is None:
            return "–"
        return f"{float(value) * 100:.1f} %"

    def when(self, value: str | int | None) -> str:
        moment = _moment(value)
        if moment is None:
            return "–"
        local = moment.astimezone(self.zone)
        return local.strftime("%-d %b %Y, %H:%M")

    def when_iso(self, value: str | int | None) -> str:
        moment = _moment(value)
        return "" if moment is None else moment.astimezone(self.zone).isoformat()

    @staticmethod
    def ago(value: str | int | None) -> str:
        """``5 minutes ago``: how long since a moment (for "last event received")."""
        moment = _moment(value)
        if moment is None:
            return "never"
        seconds = max(0, int(time.time() - moment.timestamp()))
        for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
            if seconds >= size:
                n = seconds // size
                return f"{n} {unit}{'s' if n != 1 else ''} ago"
        return f"{seconds} second{'s' if seconds != 1 else ''} ago"

    @property
    def zone_name(self) -> str:
        return str(getattr(self.zone, "key", "UTC"))
