"""Sign-in sessions and their rotating refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class AuthSession(SQLModel, table=True):
    """One sign-in; access tokens name it (`sid`) and die with it.

    A session is one refresh-token family: presenting a used refresh token revokes it.
    `activation_pending` is true for a seed 003 phone token until its PIN is entered.
    """

    __tablename__ = "auth_sessions"

    id: str = Field(primary_key=True, max_length=36)
    # Kept (as NULL) when the account is deleted, so a refresh can tell "account gone".
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True, ondelete="SET NULL")
    app_id: str | None = Field(default=None, max_length=24)
    activation_pending: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="auth_sessions.id", index=True, ondelete="CASCADE")
    # no index: a token is found by its id (core.security.parse_refresh_token)
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
