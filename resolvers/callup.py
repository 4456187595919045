"""CallUp flash-call verification for client apps (seed 001).

An app (known by its `X-Application-Token`) orders a flash call to a phone; the
caller number is `WASHGATE_FLASHCALL_PREFIX` + the code. The code lives in the
codes engine (purpose `app_verification`, subject = the order id), which counts
attempts, expires and uses it up with conditional UPDATEs; an order's status is
read off that code. Orders are visible to the app that made them only.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, delete, select

from core.clock import utcnow
from core.db import DbSession
from core.services import Services
from models import CallupOrder, ClientApp, VerificationCode
from resolvers import apps, codes
from resolvers.errors import DeliveryFailed, DomainError, ErrorCode, InvalidCode, RateLimited, ValidationFailed
from resolvers.inputs import valid_code, valid_phone

PURPOSE = "app_verification"
CHANNEL = "flash_call"


class VerificationStatus(enum.Enum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    EXPIRED = "EXPIRED"
    EXHAUSTED = "EXHAUSTED"


@dataclass(frozen=True)
class Verification:
    """An order as its app sees it; `code` only right after creation, when the app may see it."""

    id: str
    phone: str
    caller_prefix: str
    caller_mask: str
    code_length: int
    status: VerificationStatus
    expires_at: datetime
    created_at: datetime
    verified_at: datetime | None
    attempts_left: int
    code: str | None = None


def access_denied() -> DomainError:
    """No app token, or an unknown or blocked one (REST 001 answers 403 `access denied`)."""
    return DomainError(ErrorCode.UNAUTHENTICATED, "access denied")


def order_not_found() -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, "order not found")


async def app_for_token(session: DbSession, *, services: Services, app_token: str | None) -> ClientApp:
    """The unblocked app whose CallUp token this is; UNAUTHENTICATED `access denied` otherwise."""
    app = await apps.app_by_token(session, services=services, app_token=app_token)
    if app is None:
        raise access_denied()
    return app


def status_of(code: VerificationCode, now: datetime) -> VerificationStatus:
    """What the order's code allows now."""
    if code.used_at is not None:
        return VerificationStatus.VERIFIED
    if code.attempts >= code.max_attempts:
        return VerificationStatus.EXHAUSTED
    if code.revoked_at is not None or code.expires_at <= now:
        return VerificationStatus.EXPIRED
    return VerificationStatus.PENDING


def _view(services: Services, order: CallupOrder, code: VerificationCode, *, now: datetime) -> Verification:
    settings = services.settings
    return Verification(
        id=order.id,
        phone=order.phone,
        caller_prefix=settings.flashcall_prefix,
        caller_mask=settings.flashcall_prefix + "*" * settings.otp_length,
        code_length=settings.otp_length,
        status=status_of(code, now),
        expires_at=code.expires_at,
        created_at=order.created_at,
        verified_at=code.used_at,
        attempts_left=max(code.max_attempts - code.attempts, 0),
    )


def _code_digits(raw: object, length: int) -> str:
    """`raw` if it is a string of exactly `length` digits, else ValidationFailed on `code`."""
    message = "The code must be {length} digits"
    if not isinstance(raw, str):
        raise ValidationFailed("code", message, length=length)
    try:
        return valid_code(raw, length, field="code")
    except ValidationFailed:
        raise ValidationFailed("code", message, length=length) from None


async def create_verification(
    *,
    session: DbSession,
    services: Services,
    app: ClientApp,
    phone: object,
    code: object = None,
    reveal: bool = False,
    locale: str,
    client_ip: str | None,
) -> Verification:
    """Order a flash call to `phone` whose caller number ends with a fresh (or the caller's) code.

    Every sending limit is checked before the call (the app's hourly cap, the phone's
    resend interval, the hourly cap of all deliveries). The code is in the answer when
    the app chose it or asked for it (`reveal`). A failed call leaves no order behind.
    """
    settings = services.settings
    number = valid_phone(phone, settings)
    chosen = None if code is None else _code_digits(code, settings.otp_length)
    order = CallupOrder(id=str(uuid.uuid4()), app_id=app.app_id, phone=number, created_at=utcnow())
    session.add(order)
    try:
        issued = await codes.issue_code(
            session=session,
            services=services,
            phone=number,
            purpose=PURPOSE,
            channel=CHANNEL,
            locale=locale,
            client_ip=client_ip,
            app_id=app.app_id,
            subject=order.id,
            chosen_code=chosen,
        )
    except DeliveryFailed:
        await session.exec(delete(CallupOrder).where(col(CallupOrder.id) == order.id))
        await session.commit()
        raise
    prefix = settings.flashcall_prefix
    return Verification(
        id=order.id,
        phone=number,
        caller_prefix=prefix,
        caller_mask=prefix + "*" * issued.code_length,
        code_length=issued.code_length,
        status=VerificationStatus.PENDING,
        expires_at=issued.expires_at,
        created_at=order.created_at,
        verified_at=None,
        attempts_left=settings.otp_max_attempts,
        code=issued.code if (reveal or chosen is not None) else None,
    )


def _order_uuid(order_id: object) -> str:
    """The canonical form of a UUID order id; anything else is an unknown order."""
    if not isinstance(order_id, str) or len(order_id) > 64:
        raise order_not_found()
    try:
        return str(uuid.UUID(order_id))
    except ValueError:
        raise order_not_found() from None


async def _load(session: DbSession, *, app: ClientApp, order_id: object) -> tuple[CallupOrder, VerificationCode]:
    statement = (
        select(CallupOrder, VerificationCode)
        .join(
            VerificationCode,
            (col(VerificationCode.phone) == col(CallupOrder.phone))
            & (col(VerificationCode.purpose) == PURPOSE)
            & (col(VerificationCode.subject) == col(CallupOrder.id)),
        )
        .where(col(CallupOrder.id) == _order_uuid(order_id), col(CallupOrder.app_id) == app.app_id)
        .order_by(col(VerificationCode.id).desc())
        .limit(1)
    )
    found = (await session.exec(statement)).first()
    if found is None:
        raise order_not_found()
    return found[0], found[1]


async def get_verification(*, session: DbSession, services: Services, app: ClientApp, order_id: object) -> Verification:
    """The app's own order; NOT_FOUND for an unknown, malformed or another app's id."""
    order, code = await _load(session, app=app, order_id=order_id)
    return _view(services, order, code, now=utcnow())


async def check_verification(
    *, session: DbSession, services: Services, app: ClientApp, order_id: object, code: object
) -> Verification:
    """Check `code` against the app's order; on success the order is VERIFIED, once.

    A code that is not digits of the configured length is a ValidationFailed and costs
    nothing. A wrong code is an InvalidCode (attempts counted by the codes engine); a
    verified or expired order answers InvalidCode with no attempts left; spent attempts
    answer ATTEMPTS_EXHAUSTED, whatever the code.
    """
    settings = services.settings
    order, row = await _load(session, app=app, order_id=order_id)
    digits = _code_digits(code, settings.otp_length)
    now = utcnow()
    # Terminal orders answer from the row just read (their state never goes back);
    # a pending one goes to the codes engine, whose conditional UPDATEs decide races.
    status = status_of(row, now)
    if status is VerificationStatus.VERIFIED:
        raise InvalidCode(0, message="This order is already verified")
    if status is VerificationStatus.EXHAUSTED:
        raise _exhausted(services, order, now)
    if status is VerificationStatus.EXPIRED:
        raise InvalidCode(0, message="The code has expired")
    try:
        await codes.check_code(
            session=session,
            services=services,
            phone=order.phone,
            purpose=PURPOSE,
            code=digits,
            subject=order.id,
            require_pending=True,
        )
    except RateLimited as exc:
        if exc.code is ErrorCode.ATTEMPTS_EXHAUSTED:
            raise _exhausted(services, order, now) from None
        raise
    await session.commit()
    await session.refresh(row)
    return _view(services, order, row, now=now)


def _exhausted(services: Services, order: CallupOrder, now: datetime) -> RateLimited:
    """Spent attempts: a new order may be placed once the phone's resend interval has run."""
    retry_at = max(now, order.created_at + timedelta(seconds=services.settings.otp_resend_seconds))
    return RateLimited(retry_at, code=ErrorCode.ATTEMPTS_EXHAUSTED, message="Too many wrong codes, request a new one")
