"""Typed errors: what the API refused, with its Chinese message, or what the client found wrong before asking."""
from __future__ import annotations


class SiyigeError(Exception):
    """A refusal: `code` is stable and machine-readable, `message` Chinese and meant for a person."""

    def __init__(self, code: str, message: str, *, field=None, expected=None, found=None, details=None, status=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.field = code, message, field
        self.expected, self.found, self.details, self.status = expected, found, details or [], status


class ApiError(SiyigeError):
    """The API answered with an error (`{"error": {...}}`); `status` is the HTTP status."""


class Invalid(ApiError):
    """400 or 422: the request or its content is not what the API accepts."""


class Unauthorized(ApiError):
    """401: no key, or a wrong one."""


class Forbidden(ApiError):
    """403: the key may not do this."""


class NotFound(ApiError):
    """404: no such object for this key's tenant (another tenant's objects answer 404 too)."""


class Conflict(ApiError):
    """409: the object's state forbids it now (deadline passed, quota full, check pending…)."""


class TooLarge(ApiError):
    """413."""


class RateLimited(ApiError):
    """429: `retry_after` seconds to wait."""

    retry_after: float | None = None


class ServerError(ApiError):
    """5xx: the platform failed; the request may be retried with the same idempotency key."""


class ManifestError(SiyigeError):
    """A manifest row the client cannot turn into a request (an unknown org, column or file)."""


_BY_STATUS = {400: Invalid, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: TooLarge,
              422: Invalid, 429: RateLimited}


def error_from(status: int, body) -> ApiError:
    """The typed error of an error answer; a body without the API's error shape (a proxy's page) still gives one."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": f"http_{status}", "message": f"服务器返回 HTTP {status}，且没有说明原因。请稍后重试，或联系平台管理员。"}
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    return cls(str(error.get("code") or f"http_{status}"), str(error.get("message") or ""), field=error.get("field"),
               expected=error.get("expected"), found=error.get("found"), details=error.get("details"), status=status)
