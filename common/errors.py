"""Errors a person reads: a stable code, an HTTP status, and a Chinese message.

Every rejected request ends in one `DomainError`. The message says what was
expected, what was found and what to do; `expected` and `found` are repeated as
fields so that a portal can show them next to the right input.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        expected: Any = None,
        found: Any = None,
        field: str | None = None,
        details: list[dict] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.expected = expected
        self.found = found
        self.field = field
        self.details = details or []

    def to_dict(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.expected is not None:
            body["expected"] = self.expected
        if self.found is not None:
            body["found"] = self.found
        if self.details:
            body["details"] = self.details
        return {"error": body}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class TooManyRequests(DomainError):
    """Answered with a Retry-After header (whole seconds)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: float, **kw):
        super().__init__(message, **kw)
        self.retry_after_s = max(1, int(retry_after_s + 0.999))
