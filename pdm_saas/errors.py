"""Errors raised by services, carrying what the API's error shape needs.

Services raise these; the API exception handler (pdm_saas/api/errors.py) turns them into
`{"error": {"code", "message", "details"}}` with the status below. Views never build error
bodies themselves.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details if details is not None else {}


class InvalidInput(ServiceError):
    status_code = 400
    code = "invalid"


class Unauthenticated(ServiceError):
    """The credentials sent are wrong (an email and password, say); 401."""

    status_code = 401
    code = "not_authenticated"


class NotAllowed(ServiceError):
    status_code = 403
    code = "permission_denied"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Gone(ServiceError):
    status_code = 410
    code = "gone"


class PaymentRequired(ServiceError):
    """A plan limit (machines, included predictions) or a lapsed subscription stops the action;
    `details` carries the limit, the usage and where to upgrade."""

    status_code = 402
    code = "payment_required"


class TooManyRequests(ServiceError):
    """A rate limit; `details["retry_after"]` is in seconds."""

    status_code = 429
    code = "rate_limited"


MESSAGE_LIMIT = 300


def message_short(text: str, *, limit: int = MESSAGE_LIMIT) -> str:
    """A message a person reads whole: a file's content quoted in an error can be of any size."""
    text = " ".join(text.split()) if len(text) > limit else text
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
