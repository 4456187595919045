"""CallUp orders (seed 001): a client app asks for a flash call whose caller number ends with a code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from core.clock import utcnow


class CallupOrder(SQLModel, table=True):
    """One flash-call verification ordered by the app `app_id` for `phone`.

    The order itself is written once. Its code lives in the codes engine
    (`verification_codes` row with purpose `app_verification` and subject = this id),
    whose conditional UPDATEs count attempts, expire and use it up; the order's
    status (PENDING, VERIFIED, EXPIRED, EXHAUSTED) is read off that row.
    """

    __tablename__ = "callup_orders"

    id: str = Field(primary_key=True, max_length=36)
    app_id: str = Field(
        sa_column=Column(String(24), ForeignKey("client_apps.app_id", ondelete="CASCADE"), nullable=False, index=True)
    )
    phone: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)
