"""The codes engine shared by SMS, voice PIN and flash call.

Codes come from `secrets`, are stored as keyed hashes, compared in constant time,
expire, are single use and die after `OTP_MAX_ATTEMPTS` wrong tries. Every counter
moves by one conditional UPDATE, so the limits hold across requests and processes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Row, Table, and_, bindparam, insert, select, update

from core.clock import utcnow
from core.db import DbSession, run
from core.delivery import CodeMessage, DeliveryError
from core.i18n import translate
from core.security import code_matches, generate_code, hash_code
from core.services import Services
from models import VerificationCode
from resolvers import limits
from resolvers.errors import DeliveryFailed, ErrorCode, InvalidCode, RateLimited

# Purposes whose wrong codes count towards the per-phone lock (the account's own flows).
LOCKING_PURPOSES = frozenset({"auth", "phone_bind", "token_activation"})


@dataclass(frozen=True)
class IssuedCode:
    code_id: int
    code: str
    code_length: int
    next_code_available_at: datetime
    expires_at: datetime
    caller_id: str | None


def _scope(phone: str, purpose: str, subject: str) -> str:
    return f"{purpose}:{phone}:{subject}"


def cooldown_key(phone: str, purpose: str, channel: str) -> str:
    """The resend interval is keyed on (phone, purpose, channel)."""
    return f"resend:{phone}:{purpose}:{channel}"


def message_text(*, channel: str, code: str, locale: str, caller_id: str | None) -> str:
    if channel == "voice":
        return translate("Your code is {spoken}", locale, spoken=" ".join(code))
    if channel == "flash_call":
        return translate("Your code is the last digits of the calling number {caller_id}", locale, caller_id=caller_id)
    return translate("Your washgate code: {code}", locale, code=code)


# The statements below run on every code sent or checked: built once, on the table, and
# run without the ORM (core.db.run). A code row is read-only: its columns by name.
code_table: Table = VerificationCode.__table__  # type: ignore[attr-defined]
CodeRow: TypeAlias = Row[Any]
_PENDING = and_(
    code_table.c.phone == bindparam("the_phone"),
    code_table.c.purpose == bindparam("the_purpose"),
    code_table.c.subject == bindparam("the_subject"),
    code_table.c.used_at.is_(None),
    code_table.c.revoked_at.is_(None),
)
_LIVE_CODE = select(code_table).where(_PENDING).order_by(code_table.c.id.desc()).limit(1)


async def live_code(session: DbSession, *, phone: str, purpose: str, subject: str = "") -> CodeRow | None:
    """The newest code for (phone, purpose, subject) that was neither used nor replaced."""
    params = {"the_phone": phone, "the_purpose": purpose, "the_subject": subject}
    return (await run(session, _LIVE_CODE, params)).first()


async def ensure_not_locked(session: DbSession, *, phone: str, now: datetime, hold: bool = False) -> int:
    """Refuse while `phone` is locked; returns the wrong codes of its current run.

    A code check holds the phone's lock row (`hold`) until it has counted its guess.
    """
    until, failures = await limits.phone_lock_state(session, phone=phone, now=now, hold=hold)
    if until is not None:
        raise RateLimited(until, message="Too many wrong codes for this phone, try again later")
    return failures


_NOW = bindparam("now", type_=code_table.c.expires_at.type)
_REVOKE_PENDING = update(code_table).where(_PENDING).values(revoked_at=_NOW)
_INSERT_CODE = insert(code_table).returning(code_table.c.id)
_REVOKE_CODE = update(code_table).where(code_table.c.id == bindparam("code_id")).values(revoked_at=_NOW)


async def issue_code(
    *,
    session: DbSession,
    services: Services,
    phone: str,
    purpose: str,
    channel: str,
    locale: str,
    client_ip: str | None,
    app_id: str | None = None,
    subject: str = "",
    chosen_code: str | None = None,
) -> IssuedCode:
    """Check every sending limit, store a fresh code (replacing the pending one) and deliver it.

    Commits. A refused send raises before anything is delivered and uses nothing up;
    a failed delivery kills the code and gives back the resend interval and quota.
    """
    settings = services.settings
    now = utcnow()
    fixed = settings.test_phone_codes.get(phone)
    resend_key = cooldown_key(phone, purpose, channel)
    day_start, next_day = limits.day_window(now, settings.quota_timezone)
    day_key = f"sms-day:{phone}"
    try:
        if purpose in LOCKING_PURPOSES:
            await ensure_not_locked(session, phone=phone, now=now)
        next_at = now + timedelta(seconds=settings.otp_resend_seconds)
        running = await limits.take_cooldown(session, key=resend_key, now=now, until=next_at)
        if running is not None:
            raise RateLimited(running, message="A new code can be requested later")
        if fixed is None:
            daily = (day_key, day_start, settings.sms_daily_quota) if channel == "sms" else None
            await _take_sending_caps(
                session, services=services, now=now, client_ip=client_ip, app_id=app_id, daily=daily, next_day=next_day
            )
        await run(
            session, _REVOKE_PENDING, {"the_phone": phone, "the_purpose": purpose, "the_subject": subject, "now": now}
        )
        code = chosen_code or fixed or generate_code(settings.otp_length)
        expires_at = now + timedelta(seconds=settings.otp_ttl_seconds)
        values = {
            "phone": phone,
            "purpose": purpose,
            "subject": subject,
            "channel": channel,
            "code_hash": hash_code(services.keys, scope=_scope(phone, purpose, subject), code=code),
            "created_at": now,
            "expires_at": expires_at,
            "attempts": 0,
            "max_attempts": settings.otp_max_attempts,
        }
        code_id = (await run(session, _INSERT_CODE, values)).scalar_one()
        await session.commit()
    except BaseException:
        await session.rollback()
        raise

    caller_id = settings.flashcall_prefix + code if channel == "flash_call" else None
    if fixed is None:
        message = CodeMessage(
            channel=channel,
            phone=phone,
            code=code,
            purpose=purpose,
            locale=locale,
            text=message_text(channel=channel, code=code, locale=locale, caller_id=caller_id),
            caller_id=caller_id,
        )
        try:
            await services.delivery.send(message, now=now)
        except DeliveryError as exc:
            await run(session, _REVOKE_CODE, {"code_id": code_id, "now": now})
            await limits.clear_cooldown(session, key=resend_key)
            if channel == "sms":
                await limits.release_counter(session, key=day_key, window_start=day_start)
            await session.commit()
            raise DeliveryFailed(phone=phone) from exc
    return IssuedCode(
        code_id=code_id,
        code=code,
        code_length=len(code),
        next_code_available_at=next_at,
        expires_at=expires_at,
        caller_id=caller_id,
    )


async def _take_sending_caps(
    session: DbSession,
    *,
    services: Services,
    now: datetime,
    client_ip: str | None,
    app_id: str | None,
    daily: tuple[str, datetime, int] | None,
    next_day: datetime,
) -> None:
    """Count the send against the sender's hourly cap (its app, else its address), the
    hourly cap over all sends and, for SMS, the phone's daily quota: one statement.
    A refusal raises; the caller's rollback takes back what the others counted."""
    settings = services.settings
    hour = limits.hour_window(now)
    if app_id is not None:
        sender = (f"app-hour:{app_id}", hour, settings.app_sends_per_hour)
    else:
        sender = (f"ip-hour:{limits.address_key(client_ip or 'unknown')}", hour, settings.ip_sends_per_hour)
    windows = [sender, ("all-hour", hour, settings.sms_hourly_limit)]
    if daily is not None:
        windows.append(daily)
    refused = await limits.take_counters(session, windows=windows)
    if sender[0] in refused or "all-hour" in refused:
        raise RateLimited(hour + timedelta(hours=1))
    if refused:
        raise RateLimited(
            next_day, code=ErrorCode.SMS_QUOTA_EXCEEDED, message="The daily SMS limit for this phone is reached"
        )


_TAKE_ATTEMPT = (
    update(code_table)
    .where(
        code_table.c.id == bindparam("code_id"),
        code_table.c.used_at.is_(None),
        code_table.c.revoked_at.is_(None),
        code_table.c.attempts < code_table.c.max_attempts,
        code_table.c.expires_at > _NOW,
    )
    .values(attempts=code_table.c.attempts + 1)
    .returning(code_table.c.attempts)
)
# A right code spends no attempt: it is used up, or (not consumed) only checked to be live.
_TAKE_ATTEMPT_AND_USE = _TAKE_ATTEMPT.values(attempts=code_table.c.attempts, used_at=_NOW)
_CHECK_LIVE = _TAKE_ATTEMPT.values(attempts=code_table.c.attempts)
_MARK_USED = (
    update(code_table)
    .where(code_table.c.id == bindparam("code_id"), code_table.c.used_at.is_(None))
    .values(used_at=_NOW)
    .returning(code_table.c.id)
)
_ENDED = select(code_table.c.used_at, code_table.c.revoked_at).where(code_table.c.id == bindparam("code_id"))
_NEWEST_CODE = (
    select(code_table.c.code_hash, code_table.c.used_at)
    .where(
        code_table.c.phone == bindparam("the_phone"),
        code_table.c.purpose == bindparam("the_purpose"),
        code_table.c.subject == bindparam("the_subject"),
    )
    .order_by(code_table.c.id.desc())
    .limit(1)
)


async def check_code(
    *,
    session: DbSession,
    services: Services,
    phone: str,
    purpose: str,
    code: str,
    subject: str = "",
    consume: bool = True,
    require_pending: bool = False,
    wrong_code: ErrorCode = ErrorCode.INVALID_OTP,
) -> CodeRow | None:
    """Check `code` for (phone, purpose, subject).

    On success the code is used up (`consume`) or left usable, and the caller's
    transaction is left open for its own work. On failure the attempt is committed
    and InvalidCode / RateLimited raised. Returns the matched row (None for a test
    phone's fixed code where no request had to be pending).
    """
    settings = services.settings
    now = utcnow()
    locking = purpose in LOCKING_PURPOSES
    try:
        # a right code ends a run of wrong ones; with no run there is nothing to reset
        failures = await ensure_not_locked(session, phone=phone, now=now, hold=True) if locking else 0
        fixed = settings.test_phone_codes.get(phone)
        row = await live_code(session, phone=phone, purpose=purpose, subject=subject)
        if fixed is not None and hmac.compare_digest(fixed.encode(), code.encode()):
            if row is None or row.expires_at <= now:
                if require_pending:
                    raise InvalidCode(0, code=wrong_code, phone=phone)
                if failures:
                    await limits.record_right_code(session, phone=phone, now=now)
                return None
            if row.attempts >= row.max_attempts:  # the fixed code is that code: its limit holds
                await _raise_exhausted(session, row=row, now=now, wrong_code=wrong_code)
            if consume or require_pending:
                await _mark_used(session, row=row, now=now, wrong_code=wrong_code)
            if failures:
                await limits.record_right_code(session, phone=phone, now=now)
            return row
        if row is None or row.expires_at <= now:
            if not await is_spent_code(
                session, services=services, row=row, phone=phone, purpose=purpose, subject=subject, code=code
            ):
                await _count_wrong(session, services=services, phone=phone, now=now, locking=locking)
            raise InvalidCode(0, code=wrong_code, phone=phone)
        if row.attempts >= row.max_attempts:
            await _raise_exhausted(session, row=row, now=now, wrong_code=wrong_code)
        matches = code_matches(
            services.keys, scope=_scope(phone, purpose, subject), code=code, stored_hash=row.code_hash
        )
        # one conditional UPDATE: the code must still be live; a wrong guess spends an attempt
        statement = (_TAKE_ATTEMPT_AND_USE if consume else _CHECK_LIVE) if matches else _TAKE_ATTEMPT
        attempts = (await run(session, statement, {"code_id": row.id, "now": now})).first()
        if attempts is None:
            await _raise_exhausted(session, row=row, now=now, wrong_code=wrong_code)
        assert attempts is not None
        if not matches:
            await _count_wrong(session, services=services, phone=phone, now=now, locking=locking)
            raise InvalidCode(max(row.max_attempts - attempts[0], 0), code=wrong_code, phone=phone)
        if failures:
            await limits.record_right_code(session, phone=phone, now=now)
        return row
    except (InvalidCode, RateLimited):
        await session.commit()
        raise


async def consume_code(
    session: DbSession, *, row: CodeRow | None, wrong_code: ErrorCode = ErrorCode.INVALID_OTP
) -> None:
    """Use up a code that `check_code(consume=False)` accepted earlier."""
    if row is not None:
        await _mark_used(session, row=row, now=utcnow(), wrong_code=wrong_code)


async def _mark_used(session: DbSession, *, row: CodeRow, now: datetime, wrong_code: ErrorCode) -> None:
    used = (await run(session, _MARK_USED, {"code_id": row.id, "now": now})).first()
    if used is None:
        raise InvalidCode(0, code=wrong_code, phone=row.phone)


async def is_spent_code(
    session: DbSession,
    *,
    services: Services,
    phone: str,
    purpose: str,
    code: str,
    subject: str = "",
    row: CodeRow | None = None,
) -> bool:
    """Whether `code` is the newest code, already used (a double tap, a retried request)
    or expired (a slow user): refused, but no guess, so not counted towards the phone lock."""
    if row is None:
        params = {"the_phone": phone, "the_purpose": purpose, "the_subject": subject}
        newest = (await run(session, _NEWEST_CODE, params)).first()
        if newest is None or newest.used_at is None:
            return False
        stored_hash = newest.code_hash
    else:
        stored_hash = row.code_hash
    return code_matches(services.keys, scope=_scope(phone, purpose, subject), code=code, stored_hash=stored_hash)


async def _count_wrong(session: DbSession, *, services: Services, phone: str, now: datetime, locking: bool) -> None:
    if locking:
        settings = services.settings
        await limits.record_wrong_code(
            session,
            phone=phone,
            now=now,
            lock_after=settings.phone_lock_failures,
            lock_seconds=settings.phone_lock_seconds,
        )


async def _raise_exhausted(
    session: DbSession, *, row: CodeRow, now: datetime, wrong_code: ErrorCode = ErrorCode.INVALID_OTP
) -> None:
    refreshed = (await run(session, _ENDED, {"code_id": row.id})).first()
    if refreshed is not None and (refreshed[0] is not None or refreshed[1] is not None):
        raise InvalidCode(0, code=wrong_code, phone=row.phone)
    retry_at = await limits.cooldown_until(session, key=cooldown_key(row.phone, row.purpose, row.channel))
    raise RateLimited(
        max(retry_at or now, now),
        code=ErrorCode.ATTEMPTS_EXHAUSTED,
        message="Too many wrong codes, request a new one",
        phone=row.phone,
    )
