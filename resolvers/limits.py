"""Atomic counters behind every limit: fixed-window caps, cooldowns, the per-phone lock.

Each check is one conditional upsert (`INSERT ... ON CONFLICT DO UPDATE ... WHERE
... RETURNING`), so limits hold under parallel requests and across processes. The
statements are built once with bind parameters (they run on every code sent or checked);
SQLAlchemy reserves a column's own name for VALUES/SET, hence `the_*` parameter names.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, or_
from sqlmodel import col, delete, select, update

from core.db import DbSession, PerDialect
from models import Cooldown, PhoneLock, RateCounter


def hour_window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def day_window(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Start of the current day in `timezone` (as UTC) and the start of the next one."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    next_start = (start + timedelta(days=1, hours=2)).replace(hour=0)
    return start.astimezone(now.tzinfo), next_start.astimezone(now.tzinfo)


_TAKE_COUNTER = PerDialect(
    lambda insert: insert(RateCounter)
    .values(key=bindparam("the_key"), window_start=bindparam("the_window"), count=1)
    .on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": RateCounter.count + 1},
        where=col(RateCounter.count) < bindparam("limit"),
    )
    .returning(RateCounter.count)
)


async def take_counter(session: DbSession, *, key: str, window_start: datetime, limit: int) -> bool:
    """Count one more `key` in the window unless it already reached `limit`."""
    if limit <= 0:
        return False
    statement = _TAKE_COUNTER.for_session(session)
    params = {"the_key": key, "the_window": window_start, "limit": limit}
    return (await session.exec(statement, params=params)).first() is not None


_RELEASE_COUNTER = (
    update(RateCounter)
    .where(
        col(RateCounter.key) == bindparam("the_key"),
        col(RateCounter.window_start) == bindparam("the_window"),
        col(RateCounter.count) > 0,
    )
    .values(count=RateCounter.count - 1)
)


async def release_counter(session: DbSession, *, key: str, window_start: datetime) -> None:
    """Give back one count (a delivery that failed uses up no quota)."""
    await session.exec(_RELEASE_COUNTER, params={"the_key": key, "the_window": window_start})


_TAKE_COOLDOWN = PerDialect(
    lambda insert: insert(Cooldown)
    .values(key=bindparam("the_key"), until=bindparam("the_until"))
    .on_conflict_do_update(
        index_elements=["key"],
        set_={"until": bindparam("the_until")},
        where=col(Cooldown.until) <= bindparam("now", type_=Cooldown.__table__.c.until.type),  # type: ignore[attr-defined]
    )
    .returning(Cooldown.until)
)
_COOLDOWN_UNTIL = select(Cooldown.until).where(col(Cooldown.key) == bindparam("the_key"))


async def take_cooldown(session: DbSession, *, key: str, now: datetime, until: datetime) -> datetime | None:
    """Start a cooldown for `key` unless one runs; returns the running one's end, else None."""
    statement = _TAKE_COOLDOWN.for_session(session)
    if (await session.exec(statement, params={"the_key": key, "the_until": until, "now": now})).first() is not None:
        return None
    return await cooldown_until(session, key=key) or now


async def cooldown_until(session: DbSession, *, key: str) -> datetime | None:
    return (await session.exec(_COOLDOWN_UNTIL, params={"the_key": key})).first()


_CLEAR_COOLDOWN = delete(Cooldown).where(col(Cooldown.key) == bindparam("the_key"))


async def clear_cooldown(session: DbSession, *, key: str) -> None:
    await session.exec(_CLEAR_COOLDOWN, params={"the_key": key})


_PHONE_LOCK = select(PhoneLock.locked_until, PhoneLock.failures).where(col(PhoneLock.phone) == bindparam("the_phone"))


async def phone_lock_state(session: DbSession, *, phone: str, now: datetime) -> tuple[datetime | None, int]:
    """(end of the running lock or None, wrong codes in the current run) for `phone`."""
    row = (await session.exec(_PHONE_LOCK, params={"the_phone": phone})).first()
    if row is None:
        return None, 0
    until, failures = row
    return (until if until is not None and until > now else None), failures


def _record_wrong_code(insert: type) -> object:
    locked_until = PhoneLock.__table__.c.locked_until  # type: ignore[attr-defined]
    now = bindparam("now", type_=locked_until.type)
    lock_until = bindparam("lock_until", type_=locked_until.type)
    lock_after = bindparam("lock_after", type_=PhoneLock.__table__.c.failures.type)  # type: ignore[attr-defined]
    expired = and_(col(PhoneLock.locked_until).is_not(None), col(PhoneLock.locked_until) <= now)
    failures = case((expired, 1), else_=PhoneLock.failures + 1)
    return (
        insert(PhoneLock)  # type: ignore[operator]
        .values(phone=bindparam("the_phone"), failures=1, locked_until=bindparam("first_lock_until"))
        .on_conflict_do_update(
            index_elements=["phone"],
            set_={
                "failures": failures,
                "locked_until": case(
                    (failures >= lock_after, lock_until),
                    (expired, None),
                    else_=PhoneLock.locked_until,
                ),
            },
        )
        .returning(PhoneLock.failures, PhoneLock.locked_until)
    )


_RECORD_WRONG_CODE = PerDialect(_record_wrong_code)


async def record_wrong_code(
    session: DbSession, *, phone: str, now: datetime, lock_after: int, lock_seconds: int
) -> datetime | None:
    """Count a wrong code for `phone`; returns the lock's end once the run locks it.

    A lock that has ended starts the run afresh.
    """
    lock_until = now + timedelta(seconds=lock_seconds)
    params = {
        "the_phone": phone,
        "now": now,
        "lock_until": lock_until,
        "lock_after": lock_after,
        "first_lock_until": lock_until if lock_after <= 1 else None,
    }
    row = (await session.exec(_RECORD_WRONG_CODE.for_session(session), params=params)).first()
    if row is not None and row[1] is not None and row[0] >= lock_after:
        return row[1]
    return None


_RECORD_RIGHT_CODE = (
    update(PhoneLock)
    .where(
        col(PhoneLock.phone) == bindparam("the_phone"),
        or_(col(PhoneLock.locked_until).is_(None), col(PhoneLock.locked_until) <= bindparam("now")),
    )
    .values(failures=0, locked_until=None)
)


async def record_right_code(session: DbSession, *, phone: str, now: datetime) -> None:
    """A right code ends the run of wrong ones (an active lock stays until it ends)."""
    await session.exec(_RECORD_RIGHT_CODE, params={"the_phone": phone, "now": now})
