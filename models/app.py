"""Client apps: one row carries both legacy credentials (CallUp token, OAuth id/secret)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class ClientApp(SQLModel, table=True):
    __tablename__ = "client_apps"

    id: int | None = Field(default=None, primary_key=True)
    app_id: str = Field(max_length=24, unique=True)
    secret_hash: str
    app_token_hash: str = Field(unique=True)
    name: str = Field(max_length=200)
    blocked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
