"""Server-to-server credentials (payment provider, the carwash network)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class ServiceToken(SQLModel, table=True):
    """A bearer token for a server caller; only its keyed hash is stored."""

    __tablename__ = "service_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
