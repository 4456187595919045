"""Carwash orders (seed 000): order a wash, pay for it, receive the wash code, use it.

An order moves CREATED -> PAID (the payment provider confirms its pay token) ->
ACTIVE (the carwash network issues the wash code) -> USED (the carwash annuls the
code); a new order replaces a CREATED one (CANCELLED, its pay token dead). A user
has at most one open order (CREATED, PAID or ACTIVE): the table's partial unique
index enforces it. Every transition is one conditional UPDATE, and each one is
published on `carwash_orders:<user id>` after commit for subscriptions.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cryptography.fernet import InvalidToken
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from core.clock import utcnow
from core.db import DbSession
from core.phones import mask_phone
from core.security import hash_token
from core.services import Services
from models import Carwash, CarwashOrder, ServiceToken, User
from models.carwash import OrderStatus
from resolvers import users
from resolvers.errors import DomainError, ErrorCode, ValidationFailed
from resolvers.plates import normalize_plate
from resolvers.sessions import Viewer

log = logging.getLogger("washgate.carwash")

PAY_TOKEN_PREFIX = "payment:"
MAX_PAY_TOKEN_LENGTH = 1024
# A Fernet token is URL-safe base64; the decoder would skip other characters, so that
# "<token> " and "<token>\n" would pass for the token itself.
_PAY_TOKEN_BODY = re.compile(r"[A-Za-z0-9_-]+={0,2}")
# Wash codes avoid characters people confuse when reading them aloud (0/O, 1/I).
WASH_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
WASH_CODE_LENGTH = 8
_GIVEN_WASH_CODE = re.compile(r"[0-9A-Za-z-]{4,32}")
MAX_CAR_TITLE = 200
MAX_ID = 2**31 - 1
_CURSOR_PREFIX = "order:"


@dataclass(frozen=True)
class MaskedPhone:
    phone_id: int
    masked: str


@dataclass(frozen=True)
class CreatedOrder:
    order: CarwashOrder
    pay_token: str


@dataclass(frozen=True)
class OrderPage:
    orders: list[CarwashOrder]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return order_cursor(self.orders[-1]) if self.orders else None


@dataclass(frozen=True)
class PayClaims:
    order_id: int
    amount: int
    nonce: str
    expires_at: datetime


# --- errors ----------------------------------------------------------------


def phone_not_found() -> DomainError:
    return DomainError(ErrorCode.PHONE_NOT_FOUND, "There is no verified phone in the account")


def invalid_phone_id() -> DomainError:
    return DomainError(ErrorCode.INVALID_PHONE_ID, "The phone number was not found", field="phone_id")


def carwash_not_found() -> DomainError:
    return DomainError(ErrorCode.CARWASH_NOT_FOUND, "Carwash not found", field="carwash_id")


def too_many_codes() -> DomainError:
    return DomainError(ErrorCode.TOO_MANY_CODES, "There is already an active wash code")


def invalid_pay_token() -> DomainError:
    return DomainError(ErrorCode.INVALID_TOKEN, "The payment token is invalid or expired")


def order_not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "Order not found")


def invalid_order_status() -> DomainError:
    return DomainError(ErrorCode.INVALID_ORDER_STATUS, "The order's status does not allow this")


# --- small helpers ---------------------------------------------------------


def topic(user_id: int) -> str:
    """The events topic of one user's orders."""
    return f"carwash_orders:{user_id}"


def parse_id(raw: object, field: str) -> int | None:
    """An id sent as a decimal string or an integer; None when it names nothing
    (another string, out of range); ValidationFailed for any other type.

    A string names an id only in the one form every API shows it (`12`, not `012` or ` 12 `).
    """
    if isinstance(raw, bool):
        raise ValidationFailed(field, "The field {name} is missing or invalid", name=field)
    if isinstance(raw, str):
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and raw[0] != "0"):
            return None
        raw = int(raw)
    if isinstance(raw, int):
        return raw if 0 < raw <= MAX_ID else None
    raise ValidationFailed(field, "The field {name} is missing or invalid", name=field)


def visible_plate(order: CarwashOrder) -> str | None:
    """The plate as the client sent it; null once the wash code is issued."""
    return None if order.status in (OrderStatus.ACTIVE, OrderStatus.USED) else order.plate


def visible_code(order: CarwashOrder) -> str | None:
    """The wash code, shown once the order is ACTIVE (and after it was used)."""
    return order.code if order.status in (OrderStatus.ACTIVE, OrderStatus.USED) else None


def new_wash_code() -> str:
    return "".join(secrets.choice(WASH_CODE_ALPHABET) for _ in range(WASH_CODE_LENGTH))


def _wash_code(raw: object) -> str:
    if raw is None:
        return new_wash_code()
    if not isinstance(raw, str) or not _GIVEN_WASH_CODE.fullmatch(raw.strip()):
        raise ValidationFailed("code", "The wash code must be 4 to 32 letters, digits or hyphens")
    return raw.strip()


def _car_title(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_CAR_TITLE or not raw.isprintable():
        raise ValidationFailed("car.title", "The field {name} is missing or invalid", name="car.title")
    return raw.strip()


# What a subscriber is told of a change: the order as it stood right after it. Not re-read
# when the event arrives, so each change reaches every subscriber even when the next one
# was made first (events cross processes through PostgreSQL, later than the change).
_NOT_IN_EVENTS = {"pay_nonce_hash"}


def order_event(order: CarwashOrder) -> dict[str, Any]:
    return {"order": order.model_dump(mode="json", exclude=_NOT_IN_EVENTS)}


def order_from_event(event: object, *, user_id: int) -> CarwashOrder | None:
    """The order an event carries, if it is one of `user_id`'s; None for anything else."""
    snapshot = event.get("order") if isinstance(event, dict) else None
    if not isinstance(snapshot, dict) or snapshot.get("user_id") != user_id:
        return None
    try:
        return CarwashOrder.model_validate({**snapshot, "pay_nonce_hash": ""})
    except PydanticValidationError:
        log.warning("ignoring a malformed carwash order event")
        return None


async def _publish(services: Services, orders: Iterable[CarwashOrder]) -> None:
    """Tell subscribers (after commit). The change is already stored, so a failing bus is logged only."""
    if services.events is None:
        return
    for order in orders:
        try:
            await services.events.publish(topic(order.user_id), order_event(order))
        except Exception:
            log.warning("could not publish the update of carwash order %s", order.id, exc_info=True)


# --- pay tokens ------------------------------------------------------------


def issue_pay_token(services: Services, *, order_id: int, amount: int, nonce: str, expires_at: datetime) -> str:
    """`payment:` + a Fernet token (keyed from the secret) carrying order, amount, nonce and expiry."""
    payload = orjson.dumps({"o": order_id, "a": amount, "n": nonce, "e": int(expires_at.timestamp())})
    return PAY_TOKEN_PREFIX + services.keys.fernet.encrypt(payload).decode()


def read_pay_token(services: Services, pay_token: object) -> PayClaims:
    """What a genuine pay token carries; INVALID_TOKEN for anything forged or malformed."""
    if not isinstance(pay_token, str) or len(pay_token) > MAX_PAY_TOKEN_LENGTH:
        raise invalid_pay_token()
    if not pay_token.startswith(PAY_TOKEN_PREFIX) or not _PAY_TOKEN_BODY.fullmatch(pay_token, len(PAY_TOKEN_PREFIX)):
        raise invalid_pay_token()
    try:
        payload = orjson.loads(services.keys.fernet.decrypt(pay_token[len(PAY_TOKEN_PREFIX) :].encode()))
        return PayClaims(
            order_id=int(payload["o"]),
            amount=int(payload["a"]),
            nonce=str(payload["n"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except (InvalidToken, orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise invalid_pay_token() from None


# --- the user's side -------------------------------------------------------


def masked_phone(*, viewer: Viewer) -> MaskedPhone:
    """The viewer's verified phone (read with the viewer), masked (`+7 999 ***-**-33`), and its id."""
    phone = viewer.phone
    if phone is None or phone.id is None or viewer.user.phone_verified_at is None:
        raise phone_not_found()
    return MaskedPhone(phone_id=phone.id, masked=mask_phone(phone.number))


async def create_order(
    *,
    session: DbSession,
    services: Services,
    viewer: Viewer,
    phone_id: object,
    car_title: object,
    plate: object,
    carwash_id: object,
) -> CreatedOrder:
    """Order a wash; a CREATED order of the viewer is cancelled (its pay token dies).

    INVALID_PHONE_ID unless `phone_id` is the viewer's current phone, INVALID_CAR_PLATE,
    CARWASH_NOT_FOUND, TOO_MANY_CODES while a PAID or ACTIVE order exists. Commits.
    """
    phone_key = parse_id(phone_id, "phone_id")
    title = _car_title(car_title)
    if not isinstance(plate, str):
        raise ValidationFailed("car.plate", "The field {name} is missing or invalid", name="car.plate")
    carwash_key = parse_id(carwash_id, "carwash_id")
    user_id = viewer.user.id or 0
    phone = await users.current_phone(session, user=viewer.user)
    if phone is None or phone_key is None or phone.id != phone_key:
        raise invalid_phone_id()
    normalized = normalize_plate(plate)
    carwash = await session.get(Carwash, carwash_key) if carwash_key is not None else None
    if carwash is None:
        raise carwash_not_found()
    now = utcnow()
    nonce = secrets.token_urlsafe(16)
    # One order change per user at a time (PostgreSQL row lock; SQLite's write lock already is one).
    await session.exec(select(User.id).where(col(User.id) == user_id).with_for_update())
    if await active_order(session=session, user_id=user_id) is not None:
        await session.rollback()
        raise too_many_codes()
    cancelled = list(
        (
            await session.exec(
                update(CarwashOrder)
                .where(col(CarwashOrder.user_id) == user_id, col(CarwashOrder.status) == OrderStatus.CREATED)
                .values(status=OrderStatus.CANCELLED, cancelled_at=now)
                .returning(CarwashOrder)
            )
        )
        .scalars()
        .all()
    )
    order = CarwashOrder(
        user_id=user_id,
        phone_id=phone.id,
        carwash_id=carwash.id,
        car_title=title,
        plate=plate,
        plate_normalized=normalized,
        status=OrderStatus.CREATED,
        amount=carwash.price,
        pay_nonce_hash=hash_token(services.keys, nonce),
        pay_expires_at=now + timedelta(seconds=services.settings.pay_token_ttl_seconds),
        created_at=now,
    )
    session.add(order)
    try:
        await session.commit()
    except IntegrityError:
        # The open-order index: a PAID or ACTIVE order (paid meanwhile) holds the user's one slot.
        await session.rollback()
        if await active_order(session=session, user_id=user_id) is not None:
            raise too_many_codes() from None
        raise
    assert order.id is not None
    await _publish(services, [*cancelled, order])
    pay_token = issue_pay_token(
        services, order_id=order.id, amount=order.amount, nonce=nonce, expires_at=order.pay_expires_at
    )
    return CreatedOrder(order=order, pay_token=pay_token)


async def active_order(*, session: DbSession, user_id: int) -> CarwashOrder | None:
    """The user's PAID or ACTIVE order, if any."""
    statement = select(CarwashOrder).where(
        col(CarwashOrder.user_id) == user_id,
        col(CarwashOrder.status).in_([OrderStatus.PAID, OrderStatus.ACTIVE]),
    )
    return (await session.exec(statement)).first()


async def order_of_user(*, session: DbSession, user_id: int, order_id: object) -> CarwashOrder:
    """The user's own order; NOT_FOUND for an unknown or another user's one."""
    key = parse_id(order_id, "id")
    order = await session.get(CarwashOrder, key) if key is not None else None
    if order is None or order.user_id != user_id:
        raise order_not_found()
    return order


def order_cursor(order: CarwashOrder) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{order.id}".encode()).decode()


def _after_id(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        text = base64.urlsafe_b64decode(after.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationFailed("after", "The cursor is invalid") from None
    key = parse_id(text.removeprefix(_CURSOR_PREFIX), "after") if text.startswith(_CURSOR_PREFIX) else None
    if key is None:  # the id column's range, as for every other id
        raise ValidationFailed("after", "The cursor is invalid")
    return key


async def order_history(
    *, session: DbSession, user_id: int, first: int, after: str | None, max_page_size: int
) -> OrderPage:
    """The user's orders, newest first, `first` (at most `max_page_size`) after the cursor `after`."""
    if not 0 <= first <= max_page_size:
        raise ValidationFailed("first", "first must be between 0 and {limit}", limit=max_page_size)
    after_id = _after_id(after)
    statement = select(CarwashOrder).where(col(CarwashOrder.user_id) == user_id)
    if after_id is not None:
        statement = statement.where(col(CarwashOrder.id) < after_id)
    rows = list((await session.exec(statement.order_by(col(CarwashOrder.id).desc()).limit(first + 1))).all())
    return OrderPage(orders=rows[:first], has_next_page=len(rows) > first)


async def carwashes(*, session: DbSession) -> list[Carwash]:
    return list((await session.exec(select(Carwash).order_by(col(Carwash.id)))).all())


async def carwashes_by_id(*, session: DbSession, ids: Iterable[int]) -> dict[int, Carwash]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.exec(select(Carwash).where(col(Carwash.id).in_(wanted)))).all()
    return {row.id: row for row in rows}


# --- the services' side (payment provider, carwash network) ----------------


async def _transition(
    session: DbSession, *, order_id: int, where: list[object], values: dict[str, object]
) -> CarwashOrder | None:
    statement = (
        update(CarwashOrder)
        .where(col(CarwashOrder.id) == order_id, *where)  # type: ignore[arg-type]
        .values(**values)
        .returning(CarwashOrder)
    )
    return (await session.exec(statement)).scalars().first()  # type: ignore[call-overload, no-any-return]


async def _current(session: DbSession, order_id: int) -> CarwashOrder | None:
    statement = select(CarwashOrder).where(col(CarwashOrder.id) == order_id).execution_options(populate_existing=True)
    return (await session.exec(statement)).first()


async def confirm_payment(
    *, session: DbSession, services: Services, caller: ServiceToken, pay_token: object
) -> CarwashOrder:
    """Record the payment of the order `pay_token` was issued for: CREATED -> PAID once.

    The same token again (in sequence or at the same moment) returns the order
    unchanged; a replaced, expired or forged token is INVALID_TOKEN. Commits.
    """
    claims = read_pay_token(services, pay_token)
    if not 0 < claims.order_id <= MAX_ID:
        raise invalid_pay_token()
    nonce_hash = hash_token(services.keys, claims.nonce)
    now = utcnow()
    paid = None
    if claims.expires_at > now:
        paid = await _transition(
            session,
            order_id=claims.order_id,
            where=[
                col(CarwashOrder.status) == OrderStatus.CREATED,
                col(CarwashOrder.pay_nonce_hash) == nonce_hash,
                col(CarwashOrder.amount) == claims.amount,
                col(CarwashOrder.pay_expires_at) > now,
            ],
            values={"status": OrderStatus.PAID, "paid_at": now},
        )
    if paid is not None:
        await session.commit()
        log.info("carwash order %s paid (confirmed by service token %s)", paid.id, caller.id)
        await _publish(services, [paid])
        return paid
    order = await _current(session, claims.order_id)
    await session.commit()  # nothing written; ends the transaction without expiring `order`
    if order is not None and order.pay_nonce_hash == nonce_hash and order.paid_at is not None:
        return order  # the same payment confirmed again
    raise invalid_pay_token()


async def activate_order(
    *, session: DbSession, services: Services, caller: ServiceToken, order_id: object, code: object = None
) -> CarwashOrder:
    """Issue the wash code of a PAID order: PAID -> ACTIVE; the code is generated when omitted.

    Activating an ACTIVE order again with no code or its own code returns it unchanged.
    """
    key = parse_id(order_id, "order_id")
    wash_code = _wash_code(code)
    if key is None:
        raise order_not_found()
    now = utcnow()
    active = await _transition(
        session,
        order_id=key,
        where=[col(CarwashOrder.status) == OrderStatus.PAID],
        values={"status": OrderStatus.ACTIVE, "code": wash_code, "activated_at": now},
    )
    if active is not None:
        await session.commit()
        log.info("carwash order %s activated (service token %s)", active.id, caller.id)
        await _publish(services, [active])
        return active
    order = await _current(session, key)
    await session.commit()  # nothing written; ends the transaction without expiring `order`
    if order is None:
        raise order_not_found()
    if order.status == OrderStatus.ACTIVE and (code is None or order.code == wash_code):
        return order
    raise invalid_order_status()


async def mark_used(*, session: DbSession, services: Services, caller: ServiceToken, order_id: object) -> CarwashOrder:
    """The carwash annulled the code: ACTIVE -> USED; a USED order again is returned unchanged."""
    key = parse_id(order_id, "order_id")
    if key is None:
        raise order_not_found()
    used = await _transition(
        session,
        order_id=key,
        where=[col(CarwashOrder.status) == OrderStatus.ACTIVE],
        values={"status": OrderStatus.USED, "used_at": utcnow()},
    )
    if used is not None:
        await session.commit()
        log.info("carwash order %s used (service token %s)", used.id, caller.id)
        await _publish(services, [used])
        return used
    order = await _current(session, key)
    await session.commit()  # nothing written; ends the transaction without expiring `order`
    if order is None:
        raise order_not_found()
    if order.status == OrderStatus.USED:
        return order
    raise invalid_order_status()


# --- the catalogue ---------------------------------------------------------


async def add_carwash(
    *, session: DbSession, carwash_id: int, name: str, address: str | None = None, price: int = 0
) -> Carwash:
    """Add a carwash with the operator's id; VALIDATION_FAILED when the id is taken. Commits."""
    if not 0 < carwash_id <= MAX_ID:
        raise ValidationFailed("id", "The carwash id must be between 1 and {limit}", limit=MAX_ID)
    if not name.strip() or len(name) > 200:
        raise ValidationFailed("name")
    if price < 0:
        raise ValidationFailed("price")
    row = Carwash(id=carwash_id, name=name.strip(), address=address, price=price)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed("id", "A carwash with this id already exists") from None
    return row
