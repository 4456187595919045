"""Carwashes and the wash orders users buy for them (seed 000)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from core.clock import utcnow


class OrderStatus(enum.StrEnum):
    """CREATED -> PAID -> ACTIVE -> USED; CREATED -> CANCELLED when a new order replaces it."""

    CREATED = "CREATED"
    PAID = "PAID"
    ACTIVE = "ACTIVE"
    USED = "USED"
    CANCELLED = "CANCELLED"


# The statuses of an open order: a user has at most one of them at any time.
OPEN_STATUSES = (OrderStatus.CREATED, OrderStatus.PAID, OrderStatus.ACTIVE)
_OPEN_SQL = "status IN ('CREATED', 'PAID', 'ACTIVE')"


class Carwash(SQLModel, table=True):
    """A carwash of the network; its id is given by the operator (`washgate carwashes add --id`)."""

    __tablename__ = "carwashes"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = Field(max_length=200)
    address: str | None = Field(default=None, max_length=500)
    price: int = Field(default=0, ge=0, description="whole roubles")
    created_at: datetime = Field(default_factory=utcnow)


class CarwashOrder(SQLModel, table=True):
    """One wash bought by a user.

    `plate` is kept as the client sent it, `plate_normalized` is the form plates are
    compared in. `code` is the carwash's voucher shown to the owner once ACTIVE.
    `pay_nonce_hash` binds the order to the one pay token issued for it.
    """

    __tablename__ = "carwash_orders"
    __table_args__ = (
        # At most one open (CREATED, PAID or ACTIVE) order per user, enforced by the database.
        Index(
            "uq_carwash_orders_open_per_user",
            "user_id",
            unique=True,
            sqlite_where=text(_OPEN_SQL),
            postgresql_where=text(_OPEN_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    phone_id: int | None = Field(default=None, foreign_key="phones.id", ondelete="SET NULL")
    carwash_id: int = Field(foreign_key="carwashes.id", index=True)
    car_title: str = Field(max_length=200)
    plate: str = Field(max_length=32)
    plate_normalized: str = Field(max_length=16)
    status: str = Field(default=OrderStatus.CREATED.value, max_length=16)
    amount: int = Field(default=0, description="whole roubles, the carwash's price when ordered")
    code: str | None = Field(default=None, max_length=32)
    pay_nonce_hash: str = Field(max_length=64)
    pay_expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None
    activated_at: datetime | None = None
    used_at: datetime | None = None
    cancelled_at: datetime | None = None
