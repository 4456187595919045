"""Accounts, their phones and loyalty cards."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class User(SQLModel, table=True):
    """One account, whichever legacy flow created it.

    `phone` is the account's verified ("passport") phone in E.164; `is_active` is
    false for an account created by a phone token (seed 003) not yet activated.
    """

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320, unique=True)
    password_hash: str | None = None
    phone: str | None = Field(default=None, max_length=20, unique=True)
    phone_verified_at: datetime | None = None
    is_active: bool = True
    terms_accepted: bool = False
    promo_terms_accepted: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    activated_at: datetime | None = None


class Phone(SQLModel, table=True):
    """A phone number an account has proven; `bound_at` is set while bound (seed 002)."""

    __tablename__ = "phones"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    number: str = Field(max_length=20, index=True)
    verified_at: datetime | None = None
    bound_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Card(SQLModel, table=True):
    """The account's loyalty card, numbered by its phone (seed 004's `cards`)."""

    __tablename__ = "cards"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    number: str = Field(max_length=20)
    balance: int = 0
    card_type_id: int = 2086
    is_locked: bool = False
    created_at: datetime = Field(default_factory=utcnow)
