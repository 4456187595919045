"""Accounts: creation, lookup by phone, the account's phone and loyalty card."""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import Table, and_, bindparam
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select, update

from core.clock import utcnow
from core.db import DbSession, insert_for, run
from core.phones import digits_of
from core.rows import View, split
from core.security import hash_password
from models import Card, CarwashOrder, Driver, Phone, User
from models.carwash import OPEN_STATUSES, OrderStatus
from resolvers.errors import DomainError, ErrorCode

DEFAULT_NAME = "Новый пользователь"


def account_exists() -> DomainError:
    return DomainError(ErrorCode.ACCOUNT_EXISTS, "Account already exists")


# Built once: read on every sign-in.
_USER_BY_PHONE = select(User).where(col(User.phone) == bindparam("number"))
_CURRENT_PHONE = (
    select(Phone)
    .where(col(Phone.user_id) == bindparam("owner"), col(Phone.number) == bindparam("number"))
    .order_by(col(Phone.id).desc())
    .limit(1)
)

# Read-only rows (core.rows) for what sign-in and `me` only show: the account, its
# current phone, its cards, with the models' attribute names.
users_table: Table = User.__table__  # type: ignore[attr-defined]
phones_table: Table = Phone.__table__  # type: ignore[attr-defined]
cards_table: Table = Card.__table__  # type: ignore[attr-defined]
USER_VIEW, PHONE_VIEW = View(users_table, "u_"), View(phones_table, "p_")
UserRow: TypeAlias = Any  # User or a USER_VIEW row
PhoneRow: TypeAlias = Any  # Phone or a PHONE_VIEW row
CardRow: TypeAlias = Any  # Card or a row of the cards table

_CARDS_OF = core_select(cards_table).where(cards_table.c.user_id == bindparam("owner")).order_by(cards_table.c.id)
# An account's current phone: its newest Phone row with the account's verified number.
CURRENT_PHONE_JOIN = and_(phones_table.c.user_id == users_table.c.id, phones_table.c.number == users_table.c.phone)
_ACCOUNT_BY_PHONE = (
    core_select(*USER_VIEW.columns, *PHONE_VIEW.columns)
    .select_from(users_table)
    .outerjoin(phones_table, CURRENT_PHONE_JOIN)
    .where(users_table.c.phone == bindparam("number"))
    .order_by(phones_table.c.id.desc())
    .limit(1)
)


async def user_by_phone(session: DbSession, *, phone: str) -> User | None:
    return (await session.exec(_USER_BY_PHONE, params={"number": phone})).first()


async def account_by_phone(session: DbSession, *, phone: str) -> tuple[UserRow, PhoneRow | None] | None:
    """The account whose verified phone is `phone`, with that phone's row (one statement, read-only rows)."""
    found = (await run(session, _ACCOUNT_BY_PHONE, {"number": phone})).first()
    if found is None:
        return None
    user, phone_row = split(found, USER_VIEW, PHONE_VIEW)
    return user, phone_row


async def current_phone(session: DbSession, *, user: UserRow) -> Phone | None:
    """The Phone row of the account's verified phone."""
    if user.phone is None:
        return None
    return (await session.exec(_CURRENT_PHONE, params={"owner": user.id, "number": user.phone})).first()


async def phones_of(session: DbSession, *, user_id: int) -> list[Phone]:
    return list((await session.exec(select(Phone).where(Phone.user_id == user_id).order_by(col(Phone.id)))).all())


async def cards_of(session: DbSession, *, user_id: int) -> list[CardRow]:
    """The account's cards as read-only rows."""
    return list((await run(session, _CARDS_OF, {"owner": user_id})).all())


async def set_verified_phone(session: DbSession, *, user: User, phone: str) -> Phone:
    """Make `phone` the account's verified phone now: its Phone row, made on the first
    proof and verified again on each later one (so a binding of that number stays).

    The phone's uniqueness is the table's: another account's phone raises ACCOUNT_EXISTS.
    """
    now = utcnow()
    user.phone = phone
    user.phone_verified_at = now
    user.updated_at = now
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise account_exists() from None
    row = await current_phone(session, user=user) or Phone(user_id=user.id or 0, number=phone)
    row.verified_at = now
    session.add(row)
    if not (await session.exec(select(Card.id).where(Card.user_id == user.id))).first():
        session.add(Card(user_id=user.id or 0, number=digits_of(phone)))
    await session.flush()
    return row


async def release_phone(session: DbSession, *, user: User) -> None:
    """Take the phone off an inactive account (its pending activation can no longer succeed).

    A phone token (seed 003) creates such an account without proof of the phone; the
    owner who proves it with a code takes the number. Caller commits.
    """
    user.phone = None
    user.phone_verified_at = None
    session.add(user)
    await session.flush()


async def create_user(
    session: DbSession,
    *,
    phone: str | None = None,
    email: str | None = None,
    password: str | None = None,
    name: str | None = None,
    is_active: bool = True,
    terms_accepted: bool = False,
    promo_terms_accepted: bool = False,
) -> User:
    """Insert an account (with its phone and card when it has a phone). Caller commits.

    Uniqueness is the table's: a concurrent duplicate raises ACCOUNT_EXISTS.
    """
    now = utcnow()
    user = User(
        name=name or DEFAULT_NAME,
        email=email.lower() if email else None,
        password_hash=await hash_password(password) if password else None,
        is_active=is_active,
        terms_accepted=terms_accepted,
        promo_terms_accepted=promo_terms_accepted,
        activated_at=now if is_active else None,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise account_exists() from None
    if phone is not None:
        await set_verified_phone(session, user=user, phone=phone)
    return user


async def activate_account(
    session: DbSession,
    *,
    user: User,
    name: object = None,
    terms_accepted: bool = False,
    promo_terms_accepted: bool = False,
) -> User:
    """Turn an inactive account (seed 003 phone token) into a full one. Caller commits."""
    now = utcnow()
    user.is_active = True
    user.activated_at = now
    user.updated_at = now
    user.phone_verified_at = now
    if isinstance(name, str) and name.strip():
        user.name = name.strip()
    user.terms_accepted = user.terms_accepted or terms_accepted
    user.promo_terms_accepted = user.promo_terms_accepted or promo_terms_accepted
    session.add(user)
    if user.phone is not None:
        await session.exec(
            update(Phone).where(col(Phone.user_id) == user.id, col(Phone.number) == user.phone).values(verified_at=now)
        )
    await session.flush()
    return user


async def add_driver_profile(session: DbSession, *, user: User) -> Driver:
    """Give the account a driver profile (seed 003's `driver`); an existing one is kept. Caller commits."""
    insert = insert_for(session)
    now = utcnow()
    await session.exec(
        insert(Driver)
        .values(user_id=user.id, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    driver = await driver_of(session, user_id=user.id or 0)
    assert driver is not None
    return driver


async def driver_of(session: DbSession, *, user_id: int) -> Driver | None:
    """The account's driver profile, if it has one."""
    return (await session.exec(select(Driver).where(Driver.user_id == user_id))).first()


async def delete_user(session: DbSession, *, user_id: int) -> bool:
    """Delete the account (its phones, cards, driver profile and orders go with it; its
    sessions lose it); False when there is none. Refused (INVALID_ORDER_STATUS) while it has
    a paid or active carwash order, which the carwash network has yet to mark used.

    The account's open orders are locked first (PostgreSQL; SQLite runs one write
    transaction at a time), so a payment confirmed meanwhile either lands before the
    conditional DELETE looks (and refuses it) or finds the order gone: never cascaded away."""
    await session.exec(
        select(CarwashOrder.id)
        .where(
            col(CarwashOrder.user_id) == user_id,
            col(CarwashOrder.status).in_([status.value for status in OPEN_STATUSES]),
        )
        .with_for_update()
    )
    paid = (
        select(CarwashOrder.id)
        .where(
            col(CarwashOrder.user_id) == user_id,
            col(CarwashOrder.status).in_([OrderStatus.PAID.value, OrderStatus.ACTIVE.value]),
        )
        .exists()
    )
    deleted = (await session.exec(delete(User).where(col(User.id) == user_id, ~paid).returning(User.id))).first()
    if deleted is None:
        exists = (await session.exec(select(User.id).where(User.id == user_id))).first() is not None
        await session.rollback()
        if exists:
            raise DomainError(
                ErrorCode.INVALID_ORDER_STATUS,
                "The account has a paid or active carwash order; delete it once the order is used",
            )
        return False
    await session.commit()
    return True
