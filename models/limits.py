"""Counters behind the abuse limits; each is changed by one atomic upsert."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class RateCounter(SQLModel, table=True):
    """How many times `key` happened in the fixed window starting at `window_start`."""

    __tablename__ = "rate_counters"

    key: str = Field(primary_key=True, max_length=128)
    window_start: datetime = Field(primary_key=True)
    count: int = 0


class Cooldown(SQLModel, table=True):
    """`key` may not happen again before `until` (resend intervals)."""

    __tablename__ = "cooldowns"

    key: str = Field(primary_key=True, max_length=128)
    until: datetime


class PhoneLock(SQLModel, table=True):
    """Wrong codes in a row for one phone, across codes and resends."""

    __tablename__ = "phone_locks"

    phone: str = Field(primary_key=True, max_length=20)
    failures: int = 0
    locked_until: datetime | None = None
