"""The triggers report: per rule and per step, over a period of the app's days, what was
sent and what it won back (``GET /api/v1/reports/triggers``, the reports' envelope).

* ``fired``: firings settled as sent in the period; ``delivered`` / ``failed``: of the
  messages made in the period, the firings with a delivered (a dead) delivery;
* ``opened`` / ``clicked``: of those, the firings whose e-mail was opened (its
  tracking image loaded) / had a link clicked, at any time;
* ``recovered_orders`` / ``recovered_revenue``: orders placed in the period that the
  rule won back (docs/triggers.md, "Recovered revenue"), revenue as a decimal string;
* ``conversion``: recovered orders / delivered.

A rule's figures are the sums of its steps'.  Deleted rules are listed (``deleted``)
while the period holds figures of theirs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from shoptrack.money import format_money, to_units
from shoptrack.reports.period import Period, RangeParams, Report, ratio, run_report
from shoptrack.store.contract import App, Store

COUNTS = ("fired", "delivered", "failed", "opened", "clicked", "recovered_orders")


class Figures(BaseModel):
    """What a rule, or one of its steps, did over the period."""
    fired: int
    delivered: int
    failed: int
    opened: int
    clicked: int
    recovered_orders: int
    recovered_revenue: str
    conversion: float


class StepFigures(Figures):
    step: int
    after_seconds: int | None


class RuleFigures(Figures):
    rule_id: int
    kind: str | None
    name: str | None
    paused: bool
    deleted: bool
    channels: list[str]
    steps: list[StepFigures]


class TriggersReport(BaseModel):
    rules: list[RuleFigures]


def _step(entry: dict[str, Any], after: int | None) -> StepFigures:
    return StepFigures(after_seconds=after, **{k: entry[k] for k in (
        "step", *COUNTS, "recovered_revenue", "conversion")})


def figures(store: Store, app: App, period: Period) -> TriggersReport:
    found = store.trigger_reports(app.id, period.start_ms, period.end_ms)
    rules = {r.id: r for r in store.trigger_rules(app.id)}
    out = []
    for rule_id in sorted(set(rules) | set(found)):
        rule = rules.get(rule_id)
        entries = {e["step"]: e for e in found.get(rule_id, [])}
        numbers = range(len(rule.steps)) if rule else ()
        steps = [_step(entries[n], rule.steps[n] if rule and n < len(rule.steps) else None)
                 if n in entries else StepFigures(
                     step=n, after_seconds=rule.steps[n] if rule else None,
                     recovered_revenue="0.00", conversion=0.0, **dict.fromkeys(COUNTS, 0))
                 for n in sorted(set(numbers) | set(entries))]
        totals = {k: sum(getattr(s, k) for s in steps) for k in COUNTS}
        revenue = sum(to_units(Decimal(s.recovered_revenue)) for s in steps)
        out.append(RuleFigures(
            rule_id=rule_id, kind=rule.kind if rule else None, name=rule.name if rule else None,
            paused=bool(rule and rule.paused), deleted=rule is None,
            channels=([] if rule is None else
                      [c for c, on in (("webhook", rule.endpoint is not None),
                                       ("email", rule.email)) if on]),
            **totals, recovered_revenue=format_money(revenue) or "0.00",
            conversion=ratio(totals["recovered_orders"], totals["delivered"]), steps=steps))
    return TriggersReport(rules=out)


def triggers_report(store: Store, app: App, params: RangeParams) -> Report[TriggersReport]:
    """The report for the period ``params`` name (and the compared one)."""
    return run_report(app, params, lambda period: figures(store, app, period))
