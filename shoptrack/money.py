"""Exact decimals for money and quantities.

Storage keeps every amount (prices, revenue, quantities) as a whole number of
ten-thousandths (``UNITS_PER_ONE``), so that sums and the atomic
``qnt = qnt + ?`` updates are exact on both backends, and no float ever
touches money.  Amounts with more than four decimals are rounded half-even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

UNITS_PER_ONE = 10_000
_QUANTUM = Decimal(1) / UNITS_PER_ONE
_TWO_PLACES = Decimal("0.01")
# Largest amount that fits a signed 64-bit column once scaled.
MAX_AMOUNT = Decimal(2**63 - 1) / UNITS_PER_ONE


def to_units(amount: Decimal) -> int:
    """Scale a decimal amount to integer storage units (half-even rounding)."""
    return int(amount.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN) * UNITS_PER_ONE)


def from_units(units: int) -> Decimal:
    return Decimal(units) / UNITS_PER_ONE


def format_money(units: int | None) -> str | None:
    """Render stored units as a decimal string with at least two places: ``"99.90"``."""
    if units is None:
        return None
    value = from_units(units)
    if value == value.quantize(_TWO_PLACES):
        return str(value.quantize(_TWO_PLACES))
    return str(value.normalize())


def format_quantity(units: int) -> int | float:
    """Quantities are shown as JSON numbers: an int when whole (``2``), else a float."""
    if units % UNITS_PER_ONE == 0:
        return units // UNITS_PER_ONE
    return float(from_units(units))
