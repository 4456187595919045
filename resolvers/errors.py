"""Domain error codes and the exceptions resolvers raise; renderers map them per API."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any


class ErrorCode(enum.Enum):
    VALIDATION_FAILED = "VALIDATION_FAILED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_OTP = "INVALID_OTP"
    ATTEMPTS_EXHAUSTED = "ATTEMPTS_EXHAUSTED"
    RATE_LIMITED = "RATE_LIMITED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
    ACCOUNT_EXISTS = "ACCOUNT_EXISTS"
    INVALID_APP = "INVALID_APP"
    INVALID_USER = "INVALID_USER"
    INVALID_PIN = "INVALID_PIN"
    INVALID_TOKEN = "INVALID_TOKEN"
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"
    PHONE_NOT_FOUND = "PHONE_NOT_FOUND"
    INVALID_PHONE_ID = "INVALID_PHONE_ID"
    INVALID_CAR_PLATE = "INVALID_CAR_PLATE"
    TOO_MANY_CODES = "TOO_MANY_CODES"
    CARWASH_NOT_FOUND = "CARWASH_NOT_FOUND"
    PHONE_CHANGED = "PHONE_CHANGED"
    NO_BOUND_PHONE = "NO_BOUND_PHONE"
    OTHER_ACTIVE_REQUEST = "OTHER_ACTIVE_REQUEST"
    SMS_QUOTA_EXCEEDED = "SMS_QUOTA_EXCEEDED"
    INVALID_ORDER_STATUS = "INVALID_ORDER_STATUS"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NO_ACTIVE_REQUEST = "NO_ACTIVE_REQUEST"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class DomainError(Exception):
    """An expected failure. `message` is English with `{name}` placeholders filled
    from `params`; renderers translate it (core.i18n) and pick their own shape."""

    default_message = "The request cannot be completed"

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        *,
        field: str | None = None,
        **params: Any,
    ) -> None:
        self.code = code
        self.message = message or self.default_message
        self.field = field
        self.params = params
        super().__init__(f"{code.name}: {self.message}")


class ValidationFailed(DomainError):
    """Input is missing, of the wrong type or out of range; `field` names it."""

    default_message = "Invalid value"

    def __init__(
        self, field: str, message: str | None = None, *, code: ErrorCode = ErrorCode.VALIDATION_FAILED, **params: Any
    ) -> None:
        super().__init__(code, message, field=field, **params)


class RateLimited(DomainError):
    """A limit refused the request until `retry_at`."""

    default_message = "Too many requests, try again later"

    def __init__(
        self,
        retry_at: datetime,
        code: ErrorCode = ErrorCode.RATE_LIMITED,
        message: str | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code, message, **params)
        self.retry_at = retry_at


class InvalidCode(DomainError):
    """A wrong, used or expired code; `attempts_left` is what the code still allows."""

    default_message = "The code is incorrect"

    def __init__(
        self, attempts_left: int, code: ErrorCode = ErrorCode.INVALID_OTP, message: str | None = None, **params: Any
    ) -> None:
        super().__init__(code, message, **params)
        self.attempts_left = attempts_left


class DeliveryFailed(DomainError):
    default_message = "The code could not be delivered, try again"

    def __init__(self, message: str | None = None, **params: Any) -> None:
        super().__init__(ErrorCode.DELIVERY_FAILED, message, **params)


def unauthenticated(message: str = "Authentication required") -> DomainError:
    return DomainError(ErrorCode.UNAUTHENTICATED, message)


def not_found(message: str = "Not found") -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, message)
