"""Validation of raw input values shared by every API (phones, codes)."""

from __future__ import annotations

from core.phones import PhoneError, normalize_phone
from core.settings import Settings
from resolvers.errors import ValidationFailed


def valid_phone(raw: object, settings: Settings, *, field: str = "phone") -> str:
    """E.164 form of `raw`, or ValidationFailed on `field` (outside the allowed countries too)."""
    try:
        return normalize_phone(raw, allowed=settings.allowed_countries)
    except PhoneError as exc:
        if exc.reason == "country":
            raise ValidationFailed(field, "Codes cannot be sent to this country") from None
        raise ValidationFailed(field, "Phone number must be valid") from None


def valid_code(raw: object, length: int, *, field: str = "otp", message: str = "Otp must be valid") -> str:
    """A string of exactly `length` ASCII digits (ints are accepted as their digits)."""
    if isinstance(raw, bool):
        raise ValidationFailed(field, message)
    if isinstance(raw, int) and raw >= 0:
        raw = f"{raw:0{length}d}"
    if not isinstance(raw, str) or len(raw) != length or not raw.isascii() or not raw.isdigit():
        raise ValidationFailed(field, message)
    return raw
