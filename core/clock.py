"""Time: aware UTC datetimes everywhere (SQLModel stores them as UTC), one "now"."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def iso_z(value: datetime | None) -> str | None:
    """`2023-04-15T16:40:28.152Z` (seed 004's form)."""
    if value is None:
        return None
    return as_aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_offset(value: datetime | None) -> str | None:
    """`2019-07-26T12:18:56.197+0000` (seed 002's form)."""
    if value is None:
        return None
    return as_aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
