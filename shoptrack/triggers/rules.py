"""Trigger rules: their kinds, ``after`` durations, filters and defaults.

Kinds (when a step becomes due; each step is sent only while the rule's exit has
not happened, see :mod:`.checks`):

* ``abandoned_cart``: the cart is non-empty and unchanged for ``after``, no purchase;
* ``abandoned_view``: products viewed, nothing added to the cart and no purchase
  within ``after``;
* ``order_placed``; ``order_state`` (to ``--state`` states, any by default);
* ``visitor_identified``: a login, ``update_info``, or an e-mail/phone in
  ``visitor_info`` (once per person);
* ``custom_event``: a custom event of ``--key``.

Filters (``filters`` JSON): ``min_cart_value`` (a decimal string), ``has_email``,
``has_phone``, ``product_ids`` (the cart or viewed products must hold one),
``states``, ``key``.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from shoptrack.clock import iso
from shoptrack.store.firings import KINDS
from shoptrack.store.trigger_contract import (
    DEFAULT_CLICK_WINDOW,
    DEFAULT_OPEN_WINDOW,
    NewRule,
    Rule,
)

__all__ = ["KINDS", "DEFAULT_AFTER", "build_rule", "new_secret", "parse_after", "rule_json"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_AFTER = {"abandoned_cart": 3600, "abandoned_view": 7200}
DEFAULT_CAP = 86_400  # once per person per rule in 24 h
DEFAULT_ATTRIBUTION = 5 * 86_400  # after a delivered webhook
DEFAULT_CLICK = DEFAULT_CLICK_WINDOW  # 5 days after a click on the e-mail
DEFAULT_OPEN = DEFAULT_OPEN_WINDOW  # 1 day after an open (a weaker sign than a click)
MAX_STEPS = 10


class RuleError(ValueError):
    """A rule that cannot be made: the message says which option and why."""


def parse_after(text: str) -> int:
    """Seconds in ``90s``, ``30m``, ``4h``, ``1d`` (a bare number is seconds)."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(text).lower())
    if found is None:
        raise RuleError(f"{text!r} is not a duration such as 90s, 30m, 4h or 1d")
    return int(found.group(1)) * _UNITS[found.group(2) or "s"]


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def build_rule(kind: str, after: Sequence[str] = (), *, webhook: str | None = None,
               email: bool = False, name: str | None = None,
               filters: dict[str, Any] | None = None, cap: str | None = None,
               attribution: str | None = None, click_window: str | None = None,
               open_window: str | None = None,
               template: dict[str, str] | None = None) -> tuple[NewRule, str | None]:
    """The rule to store and the endpoint's new secret (None without a webhook)."""
    if kind not in KINDS:
        raise RuleError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    if webhook is None and not email:
        raise RuleError("a rule needs a channel: --webhook URL and/or --email")
    if webhook is not None and not re.match(r"^https?://[^\s/]+", webhook):
        raise RuleError(f"--webhook must be an http(s) URL, got {webhook!r}")
    steps = [parse_after(a) for a in after] or [DEFAULT_AFTER.get(kind, 0)]
    if len(steps) > MAX_STEPS:
        raise RuleError(f"at most {MAX_STEPS} steps")
    if steps != sorted(steps):
        raise RuleError("steps must come in order (e.g. --after 1h --after 24h)")
    clean = _filters(filters or {})
    secret = None if webhook is None else new_secret()
    return NewRule(kind=kind, steps=tuple(steps), filters=clean,
                   cap_seconds=DEFAULT_CAP if cap is None else parse_after(cap),
                   attribution_seconds=(DEFAULT_ATTRIBUTION if attribution is None
                                        else parse_after(attribution)),
                   email=email, template=template, name=name, webhook_url=webhook,
                   webhook_secret=secret,
                   click_seconds=DEFAULT_CLICK if click_window is None else parse_after(
                       click_window),
                   open_seconds=DEFAULT_OPEN if open_window is None else parse_after(
                       open_window)), secret


def _filters(given: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in given.items():
        if value is None or value == [] or value is False:
            continue
        if key == "min_cart_value":
            try:
                out[key] = str(Decimal(str(value)))
            except InvalidOperation:
                raise RuleError(f"min_cart_value must be a number, got {value!r}") from None
        elif key in ("has_email", "has_phone"):
            out[key] = bool(value)
        elif key in ("product_ids", "states"):
            out[key] = [str(v) for v in value]
        elif key == "key":
            out[key] = str(value)
        else:
            raise RuleError(f"unknown filter {key!r}")
    return out


def rule_json(rule: Rule, secret: str | None = None) -> dict[str, Any]:
    """A rule as the CLI and the API show it; ``secret`` only right after it was made."""
    endpoint = rule.endpoint
    out: dict[str, Any] = {
        "id": rule.id, "kind": rule.kind, "name": rule.name,
        "steps": [{"step": i, "after_seconds": s} for i, s in enumerate(rule.steps)],
        "filters": rule.filters, "frequency_cap_seconds": rule.cap_seconds,
        "attribution_window_seconds": rule.attribution_seconds,
        "click_window_seconds": rule.click_seconds, "open_window_seconds": rule.open_seconds,
        "email": rule.email,
        "paused": rule.paused, "created_at": iso(rule.created_at),
        "webhook": None if endpoint is None else {
            "url": endpoint.url, "disabled_at": iso(endpoint.disabled_at),
            "disabled_reason": endpoint.disabled_reason},
    }
    if secret is not None:
        out["secret"] = secret
    return out
