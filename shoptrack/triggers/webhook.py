"""The webhook channel: Standard Webhooks (https://www.standardwebhooks.com).

Each message carries ``webhook-id`` (the firing's ``msg_id``: the same on every
retry and re-send, receivers de-duplicate on it), ``webhook-timestamp`` (Unix
seconds of this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of
id.timestamp.body>`` for each of the endpoint's secrets, space-separated (several
during a rotation).  Signing is the ``standardwebhooks`` package's own code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from shoptrack import __version__

USER_AGENT = f"shoptrack/{__version__} (webhooks)"


@dataclass(frozen=True, slots=True)
class Result:
    """What one try gave: ``outcome`` ``ok``, ``http_error``, ``timeout`` or ``network``."""

    outcome: str
    latency_ms: float
    status: int | None = None
    excerpt: str | None = None
    retry_after: float | None = None  # seconds the receiver asked us to wait


def headers(msg_id: str, body: str, secrets: tuple[str, ...], at: float) -> dict[str, str]:
    stamp = datetime.fromtimestamp(int(at), tz=UTC)
    signatures = " ".join(Webhook(s).sign(msg_id, stamp, body) for s in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at)),
            "webhook-signature": signatures, "content-type": "application/json",
            "user-agent": USER_AGENT}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def send(client: httpx.Client, url: str, msg_id: str, body: str,
         secrets: tuple[str, ...]) -> Result:
    """POST the message once (no retry here: the scheduler keeps the schedule)."""
    began = time.perf_counter()
    try:
        response = client.post(url, content=body.encode(),
                               headers=headers(msg_id, body, secrets, time.time()))
    except httpx.TimeoutException as exc:
        return Result("timeout", (time.perf_counter() - began) * 1000, excerpt=str(exc)[:200])
    except httpx.HTTPError as exc:
        return Result("network", (time.perf_counter() - began) * 1000,
                      excerpt=f"{type(exc).__name__}: {exc}"[:200])
    latency = (time.perf_counter() - began) * 1000
    ok = 200 <= response.status_code < 300
    return Result("ok" if ok else "http_error", latency, response.status_code,
                  response.text[:500], _retry_after(response.headers.get("retry-after")))
