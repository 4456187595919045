"""Secrets the server generates for itself (the development secret key)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class ServerSecret(SQLModel, table=True):
    __tablename__ = "server_secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str
    created_at: datetime = Field(default_factory=utcnow)
