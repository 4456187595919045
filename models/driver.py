"""Driver profiles (seed 003's `driver`): what a driver app needs besides the account."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from core.clock import utcnow


class Driver(SQLModel, table=True):
    """The driver side of an account: at most one per user, gone with the account.

    Every detail is optional: `washgate users create --driver` makes an empty profile
    that the driver completes later (licence and car).
    """

    __tablename__ = "drivers"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True, ondelete="CASCADE")
    license_number: str | None = Field(default=None, max_length=32)
    license_expires_on: date | None = None
    car_title: str | None = Field(default=None, max_length=200)
    car_plate: str | None = Field(default=None, max_length=16)
    car_color: str | None = Field(default=None, max_length=50)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
