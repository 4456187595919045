"""Binding the account's passport phone (seed 002), confirmed by SMS when it is not fresh.

The passport phone is `User.phone`; a binding is `Phone.bound_at` on that phone's row.
A pending binding is a `phone_bind` code of the codes engine (subject: the user's id)
and the resend cooldown it started; the engine also keeps the attempts, the daily SMS
quota and the per-phone lock, each moved by one atomic statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists
from sqlalchemy.orm import aliased
from sqlmodel import col, select, update

from core.clock import as_aware, utcnow
from core.db import DbSession
from core.services import Services
from models import Phone, User
from resolvers import codes, limits, users
from resolvers.errors import DomainError, ErrorCode, InvalidCode, RateLimited
from resolvers.inputs import valid_code
from resolvers.sessions import Viewer

PURPOSE = "phone_bind"
CHANNEL = "sms"


@dataclass(frozen=True)
class BindingStarted:
    """What `bind_phone` did: bound at once, sent a code, or found one already sent."""

    confirmation_required: bool
    next_code_available_at: datetime
    already_sent: bool = False


def phone_changed() -> DomainError:
    return DomainError(ErrorCode.PHONE_CHANGED, "The account's phone has changed: unbind the old one first")


def no_bound_phone() -> DomainError:
    return DomainError(ErrorCode.NO_BOUND_PHONE, "The account has no phone to bind")


def no_active_request() -> DomainError:
    return DomainError(ErrorCode.NO_ACTIVE_REQUEST, "No phone binding is waiting for a code")


def expired_code(phone: str) -> InvalidCode:
    """The binding's code ran out: a wrong code with no attempts left, and nothing pending
    any more (`pending=False`: seed 002 answers it as 404 noActiveRequest)."""
    return InvalidCode(0, message="The code has expired", phone=phone, pending=False)


def other_active_request(retry_at: datetime) -> RateLimited:
    return RateLimited(
        retry_at, code=ErrorCode.OTHER_ACTIVE_REQUEST, message="A code was already requested, try again later"
    )


async def _fresh_user(session: DbSession, viewer: Viewer) -> User:
    statement = select(User).where(User.id == viewer.user.id).execution_options(populate_existing=True)
    user = (await session.exec(statement)).first()
    if user is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "The token is invalid or expired")
    return user


async def _bound_phone(session: DbSession, *, user_id: int) -> Phone | None:
    statement = (
        select(Phone)
        .where(Phone.user_id == user_id, col(Phone.bound_at).is_not(None))
        .order_by(col(Phone.id).desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).first()


async def _bind_row(session: DbSession, *, row: Phone, now: datetime) -> datetime | None:
    """Mark `row` bound unless it or another phone of the account already is."""
    other = aliased(Phone)
    already_bound = exists().where(other.user_id == row.user_id, col(other.bound_at).is_not(None))
    bound = (
        await session.exec(
            update(Phone)
            .where(col(Phone.id) == row.id, col(Phone.bound_at).is_(None), ~already_bound)
            .values(bound_at=now)
            .returning(Phone.bound_at)
        )
    ).first()
    return bound[0] if bound is not None else None


async def _settle_lost_race(session: DbSession, *, user: User) -> Phone:
    """Another request bound a phone first: the passport phone's row if that is it."""
    bound = await _bound_phone(session, user_id=user.id or 0)
    if bound is None or bound.number != user.phone:
        raise phone_changed()
    return bound


def _recent(user: User, *, services: Services, now: datetime) -> bool:
    verified_at = user.phone_verified_at
    if verified_at is None:
        return False
    return now - as_aware(verified_at) < timedelta(seconds=services.settings.phone_recent_seconds)


async def _pending_answer(session: DbSession, *, phone: str, subject: str, now: datetime) -> BindingStarted | None:
    """While the resend interval runs: 208 for a usable code, else OTHER_ACTIVE_REQUEST.

    None when a new code may be sent.
    """
    # The engine's resend interval for (phone, purpose, channel) is the binding's.
    until = await limits.cooldown_until(session, key=codes.cooldown_key(phone, PURPOSE, CHANNEL))
    if until is None or as_aware(until) <= now:
        return None
    until = as_aware(until)
    row = await codes.live_code(session, phone=phone, purpose=PURPOSE, subject=subject)
    if row is not None and row.attempts < row.max_attempts and as_aware(row.expires_at) > now:
        return BindingStarted(confirmation_required=True, next_code_available_at=until, already_sent=True)
    raise other_active_request(until)


async def bind_phone(
    *,
    session: DbSession,
    services: Services,
    viewer: Viewer,
    locale: str,
    client_ip: str | None,
) -> BindingStarted:
    """Bind the viewer's passport phone: at once when it was verified recently, else by SMS.

    A repeat inside the resend interval sends nothing: it answers `already_sent` while
    the code is usable and OTHER_ACTIVE_REQUEST once its attempts are spent.
    """
    now = utcnow()
    user = await _fresh_user(session, viewer)
    passport = user.phone
    if passport is None or user.phone_verified_at is None:
        raise no_bound_phone()
    bound = await _bound_phone(session, user_id=user.id or 0)
    if bound is not None:
        if bound.number != passport:
            raise phone_changed()
        return BindingStarted(confirmation_required=False, next_code_available_at=now)
    current = await users.current_phone(session, user=user)
    if current is None:
        raise no_bound_phone()
    if _recent(user, services=services, now=now):
        if await _bind_row(session, row=current, now=now) is None:
            await _settle_lost_race(session, user=user)
        await session.commit()
        return BindingStarted(confirmation_required=False, next_code_available_at=now)

    subject = str(user.id)
    await codes.ensure_not_locked(session, phone=passport, now=now)
    pending = await _pending_answer(session, phone=passport, subject=subject, now=now)
    if pending is not None:
        return pending
    try:
        issued = await codes.issue_code(
            session=session,
            services=services,
            phone=passport,
            purpose=PURPOSE,
            channel=CHANNEL,
            locale=locale,
            client_ip=client_ip,
            subject=subject,
        )
    except RateLimited as exc:
        # A parallel request started the interval first: answer as a repeat would.
        if exc.code is not ErrorCode.RATE_LIMITED:
            raise
        pending = await _pending_answer(session, phone=passport, subject=subject, now=utcnow())
        if pending is None or pending.next_code_available_at != as_aware(exc.retry_at):
            raise
        return pending
    return BindingStarted(confirmation_required=True, next_code_available_at=issued.next_code_available_at)


async def confirm_binding(*, session: DbSession, services: Services, viewer: Viewer, code: object) -> Phone:
    """Bind the passport phone with the code sent by `bind_phone`; returns its row.

    A wrong code costs an attempt (INVALID_OTP; an expired one too, with none left); spent
    attempts are ATTEMPTS_EXHAUSTED, a locked phone RATE_LIMITED; the used code entered again
    INVALID_OTP with none left; any other code with none pending (never asked for, used,
    replaced), NO_ACTIVE_REQUEST.
    """
    entered = valid_code(code, services.settings.otp_length, field="code", message="Code must be valid")
    now = utcnow()
    user = await _fresh_user(session, viewer)
    passport = user.phone
    if passport is None:
        raise no_active_request()
    bound = await _bound_phone(session, user_id=user.id or 0)
    if bound is not None and bound.number != passport:
        raise phone_changed()
    await codes.ensure_not_locked(session, phone=passport, now=now)
    subject = str(user.id)
    pending = await codes.live_code(session, phone=passport, purpose=PURPOSE, subject=subject)
    if pending is None:
        spent = await codes.is_spent_code(
            session, services=services, phone=passport, purpose=PURPOSE, subject=subject, code=entered
        )
        if spent:  # the code that bound the phone, entered again
            raise InvalidCode(0, message="The code has already been used", phone=passport, pending=False)
        raise no_active_request()
    if as_aware(pending.expires_at) <= now:
        raise expired_code(passport)
    await codes.check_code(
        session=session,
        services=services,
        phone=passport,
        purpose=PURPOSE,
        code=entered,
        subject=subject,
        require_pending=True,
    )
    current = await users.current_phone(session, user=user)
    if current is None:
        await session.rollback()
        raise no_active_request()
    try:
        bound_at = await _bind_row(session, row=current, now=now)
        if bound_at is None:
            current = await _settle_lost_race(session, user=user)
    except DomainError:
        await session.rollback()
        raise
    await session.commit()
    await session.refresh(current)
    return current


async def unbind_phone(*, session: DbSession, services: Services, viewer: Viewer) -> Phone:
    """Unbind the viewer's bound phone (whatever its number); NO_BOUND_PHONE when none is."""
    user_id = viewer.user.id or 0
    unbound = (
        await session.exec(
            update(Phone)
            .where(col(Phone.user_id) == user_id, col(Phone.bound_at).is_not(None))
            .values(bound_at=None)
            .returning(Phone.id)
        )
    ).all()
    if not unbound:
        raise DomainError(ErrorCode.NO_BOUND_PHONE, "No phone is bound to the account")
    await session.commit()
    row = await session.get(Phone, max(row[0] for row in unbound), populate_existing=True)
    assert row is not None
    return row
