"""One-time codes (SMS, voice PIN, flash call): hashed, expiring, attempt-limited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from core.clock import utcnow


class VerificationCode(SQLModel, table=True):
    """A code sent to `phone` for `purpose`; `subject` narrows it (a user, an app order).

    Live while `used_at`, `revoked_at` are unset, `expires_at` is ahead and
    `attempts < max_attempts`. Every change is one conditional UPDATE.
    """

    __tablename__ = "verification_codes"
    __table_args__ = (Index("ix_codes_lookup", "phone", "purpose", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20)
    purpose: str = Field(max_length=32)
    subject: str = Field(default="", max_length=64)
    channel: str = Field(max_length=16)
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    attempts: int = 0
    max_attempts: int
    used_at: datetime | None = None
    revoked_at: datetime | None = None
