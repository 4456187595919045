"""Atomic counters behind every limit: fixed-window caps, cooldowns, the per-phone lock.

Each check is one conditional upsert (`INSERT ... ON CONFLICT DO UPDATE ... WHERE
... RETURNING`), so limits hold under parallel requests and across processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, or_
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from core.db import insert_for
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


async def take_counter(session: AsyncSession, *, key: str, window_start: datetime, limit: int) -> bool:
    """Count one more `key` in the window unless it already reached `limit`."""
    if limit <= 0:
        return False
    insert = insert_for(session)
    statement = (
        insert(RateCounter)
        .values(key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateCounter.count + 1},
            where=col(RateCounter.count) < limit,
        )
        .returning(RateCounter.count)
    )
    return (await session.exec(statement)).first() is not None


async def release_counter(session: AsyncSession, *, key: str, window_start: datetime) -> None:
    """Give back one count (a delivery that failed uses up no quota)."""
    await session.exec(
        update(RateCounter)
        .where(col(RateCounter.key) == key, col(RateCounter.window_start) == window_start, col(RateCounter.count) > 0)
        .values(count=RateCounter.count - 1)
    )


async def take_cooldown(session: AsyncSession, *, key: str, now: datetime, until: datetime) -> datetime | None:
    """Start a cooldown for `key` unless one runs; returns the running one's end, else None."""
    insert = insert_for(session)
    statement = (
        insert(Cooldown)
        .values(key=key, until=until)
        .on_conflict_do_update(index_elements=["key"], set_={"until": until}, where=col(Cooldown.until) <= now)
        .returning(Cooldown.until)
    )
    if (await session.exec(statement)).first() is not None:
        return None
    current = (await session.exec(select(Cooldown.until).where(Cooldown.key == key))).first()
    return current or now


async def cooldown_until(session: AsyncSession, *, key: str) -> datetime | None:
    return (await session.exec(select(Cooldown.until).where(Cooldown.key == key))).first()


async def clear_cooldown(session: AsyncSession, *, key: str) -> None:
    await session.exec(delete(Cooldown).where(col(Cooldown.key) == key))


async def phone_lock_state(session: AsyncSession, *, phone: str, now: datetime) -> tuple[datetime | None, int]:
    """(end of the running lock or None, wrong codes in the current run) for `phone`."""
    row = (
        await session.exec(select(PhoneLock.locked_until, PhoneLock.failures).where(PhoneLock.phone == phone))
    ).first()
    if row is None:
        return None, 0
    until, failures = row
    return (until if until is not None and until > now else None), failures


async def record_wrong_code(
    session: AsyncSession, *, phone: str, now: datetime, lock_after: int, lock_seconds: int
) -> datetime | None:
    """Count a wrong code for `phone`; returns the lock's end once the run locks it.

    A lock that has ended starts the run afresh.
    """
    insert = insert_for(session)
    lock_until = now + timedelta(seconds=lock_seconds)
    expired = and_(col(PhoneLock.locked_until).is_not(None), col(PhoneLock.locked_until) <= now)
    failures = case((expired, 1), else_=PhoneLock.failures + 1)
    statement = (
        insert(PhoneLock)
        .values(phone=phone, failures=1, locked_until=lock_until if lock_after <= 1 else None)
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
    row = (await session.exec(statement)).first()
    if row is not None and row[1] is not None and row[0] >= lock_after:
        return row[1]
    return None


async def record_right_code(session: AsyncSession, *, phone: str, now: datetime) -> None:
    """A right code ends the run of wrong ones (an active lock stays until it ends)."""
    await session.exec(
        update(PhoneLock)
        .where(
            col(PhoneLock.phone) == phone,
            or_(col(PhoneLock.locked_until).is_(None), col(PhoneLock.locked_until) <= now),
        )
        .values(failures=0, locked_until=None)
    )
