"""One error hierarchy for k8py, shaped after Kubernetes' ``metav1.Status``.

The API server raises these and renders them as Status JSON; the REST client
parses Status JSON back into the same classes, so a caller on either side of
the wire catches ``NotFound`` rather than inspecting HTTP codes::

    ApiError                      any failure with a Kubernetes reason and code
    ├── BadRequest                400  BadRequest
    ├── Unauthorized              401  Unauthorized
    ├── Forbidden                 403  Forbidden
    ├── NotFound                  404  NotFound
    ├── MethodNotAllowed          405  MethodNotAllowed
    ├── NotAcceptable             406  NotAcceptable
    ├── AlreadyExists             409  AlreadyExists
    ├── Conflict                  409  Conflict
    ├── Gone                      410  Gone
    ├── Expired                   410  Expired   (watch/list resourceVersion compacted)
    ├── RequestEntityTooLarge     413  RequestEntityTooLarge
    ├── UnsupportedMediaType      415  UnsupportedMediaType
    ├── Invalid                   422  Invalid   (with field causes)
    ├── TooManyRequests           429  TooManyRequests
    ├── InternalError             500  InternalError
    ├── ServiceUnavailable        503  ServiceUnavailable
    └── Timeout                   504  Timeout
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "NotAcceptable",
    "AlreadyExists",
    "Conflict",
    "Gone",
    "Expired",
    "RequestEntityTooLarge",
    "UnsupportedMediaType",
    "Invalid",
    "TooManyRequests",
    "InternalError",
    "ServiceUnavailable",
    "Timeout",
    "Cause",
    "from_status",
]

Cause = dict[str, str]


class ApiError(Exception):
    """A failure that the API reports as a ``Status`` object."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[Cause] | None = None,
        retry_after: int | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []
        self.retry_after = retry_after
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def to_status(self) -> dict[str, Any]:
        """Render as the Status body Kubernetes sends (HTTP status equals ``code``)."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group is not None:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        # Kubernetes always sends details (kubectl dereferences it, e.g. in debug).
        status["details"] = details
        return status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code} {self.reason}: {self.message})"


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Gone(ApiError):
    code, reason = 410, "Gone"


class Expired(ApiError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(ApiError):
    code, reason = 504, "Timeout"


_BY_REASON: dict[str, type[ApiError]] = {
    cls.reason: cls
    for cls in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable,
        AlreadyExists, Conflict, Gone, Expired, RequestEntityTooLarge,
        UnsupportedMediaType, Invalid, TooManyRequests, InternalError,
        ServiceUnavailable, Timeout,
    )
}
_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
    405: MethodNotAllowed, 406: NotAcceptable, 409: Conflict, 410: Gone,
    413: RequestEntityTooLarge, 415: UnsupportedMediaType, 422: Invalid,
    429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable, 504: Timeout,
}


def from_status(status: dict[str, Any] | None, http_code: int, text: str = "") -> ApiError:
    """Rebuild the typed error from a Status body (or from the bare HTTP code)."""
    if not isinstance(status, dict) or status.get("kind") != "Status":
        cls = _BY_CODE.get(http_code, ApiError)
        err = cls(text.strip() or f"HTTP {http_code}")
        err.code = http_code
        return err
    reason = str(status.get("reason") or "")
    code = int(status.get("code") or http_code)
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, ApiError)
    details = status.get("details") or {}
    err = cls(
        str(status.get("message") or reason or f"HTTP {code}"),
        name=details.get("name"),
        group=details.get("group"),
        kind=details.get("kind"),
        causes=list(details.get("causes") or []),
        retry_after=details.get("retryAfterSeconds"),
    )
    err.code = code
    if reason:
        err.reason = reason
    return err
