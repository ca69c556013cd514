"""Every error shoptrack answers with, and the one JSON shape they share.

The tree::

    ShoptrackError                 (status, code, field, message)
    ├── BadRequest        400      malformed or invalid input
    │     codes: invalid_encoding, invalid_json, invalid_form, missing_uid,
    │            invalid_uid, unknown_event_type, missing_field,
    │            invalid_number, invalid_field, invalid_topic,
    │            client_disconnected
    ├── Unauthorized      401      missing or wrong API secret
    ├── Forbidden         403      unknown_app_key, origin_not_allowed
    ├── NotFound          404      not_found
    ├── RequestTimeout    408      request_timeout (a stalled body)
    ├── Conflict          409      already_replayed
    ├── PayloadTooLarge   413      payload_too_large
    ├── RateLimited       429      rate_limited (with Retry-After)
    └── Unavailable       503      unavailable (with Retry-After)

Every 4xx/5xx body is built by :func:`error_body`::

    {"error": {"code": "invalid_number", "field": "properties.qnt",
               "message": "qnt must be a number, got 'two'"}}

``field`` is the dotted path of the offending input, or null when the error
is about the request as a whole.
"""

from __future__ import annotations

from typing import Any


class ShoptrackError(Exception):
    """Base of all errors that become an HTTP answer."""

    status = 500
    default_code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.field, self.message)


class BadRequest(ShoptrackError):
    status = 400
    default_code = "invalid_field"


class Unauthorized(ShoptrackError):
    status = 401
    default_code = "unauthorized"


class Forbidden(ShoptrackError):
    status = 403
    default_code = "forbidden"


class NotFound(ShoptrackError):
    status = 404
    default_code = "not_found"


class RequestTimeout(ShoptrackError):
    status = 408
    default_code = "request_timeout"


class Conflict(ShoptrackError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(ShoptrackError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(ShoptrackError):
    status = 429
    default_code = "rate_limited"


class Unavailable(ShoptrackError):
    status = 503
    default_code = "unavailable"


DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"


def database_unavailable() -> Unavailable:
    """The public answer to a database failure.  It says no more than a client needs: the
    detail (host, port, user, file) goes to the log, where the caller writes it."""
    return Unavailable(DATABASE_UNAVAILABLE, retry_after=2)


def error_body(code: str, field: str | None, message: str) -> dict[str, Any]:
    """The one JSON error shape, used by every error path."""
    return {"error": {"code": code, "field": field, "message": message}}
