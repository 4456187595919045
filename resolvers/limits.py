"""Atomic counters behind every limit: fixed-window caps, cooldowns, the per-phone lock.

Each check is one conditional upsert (`INSERT ... ON CONFLICT DO UPDATE ... WHERE
... RETURNING`), so limits hold under parallel requests and across processes. The
statements are built once on the tables, with bind parameters, and run without the ORM
(they run on every code sent or checked); SQLAlchemy reserves a column's own name for
VALUES/SET, hence the `the_*` parameter names.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from ipaddress import IPv6Address, ip_address, ip_network
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, case, delete, literal, or_, select, true, union_all, update

from core.db import DbSession, PerDialect, dialect_of, run
from models import Cooldown, PhoneLock, RateCounter

counters: Table = RateCounter.__table__  # type: ignore[attr-defined]
cooldowns: Table = Cooldown.__table__  # type: ignore[attr-defined]
phone_locks: Table = PhoneLock.__table__  # type: ignore[attr-defined]


def address_key(address: str) -> str:
    """What per-address caps count by: an IPv4 address as it is, an IPv6 one by its /64
    network (one subscriber's share: a client holding a /64 could take a new address for
    every request), an IPv4-mapped IPv6 address as its IPv4 address."""
    if ":" not in address:
        return address
    try:
        parsed = ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ip_network(f"{parsed}/64", strict=False))


def hour_window(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


_last_day: dict[str, tuple[datetime, datetime]] = {}


def day_window(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Start of the current day in `timezone` (as UTC) and the start of the next one.

    The last window per zone is kept: every send asks, and a day changes once a day.
    """
    last = _last_day.get(timezone)
    if last is not None and last[0] <= now < last[1]:
        return last
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    next_start = (start + timedelta(days=1, hours=2)).replace(hour=0)
    window = start.astimezone(now.tzinfo), next_start.astimezone(now.tzinfo)
    _last_day[timezone] = window
    return window


def _take_counters(insert: type, rows: int) -> object:
    """One upsert counting `rows` keys, each against its own limit (`k<i>`, `w<i>`, `l<i>`).

    The rows come from a UNION ALL of one-row SELECTs, not a multi-row VALUES: SQLAlchemy
    caches no multi-row VALUES statement and compiled this one again for every send on
    PostgreSQL (0.3-0.4 ms each). Each SELECT has a WHERE, as SQLite's parser needs
    before an upsert's ON CONFLICT.
    """
    c = counters.c
    limit = case(*[(c.key == bindparam(f"k{i}"), bindparam(f"l{i}", type_=c.count.type)) for i in range(rows)])
    one_row = [
        select(
            bindparam(f"k{i}", type_=c.key.type),
            bindparam(f"w{i}", type_=c.window_start.type),
            literal(1, type_=c.count.type),
        ).where(true())
        for i in range(rows)
    ]
    return (
        insert(counters)  # type: ignore[operator]
        .from_select(["key", "window_start", "count"], union_all(*one_row) if rows > 1 else one_row[0])
        .on_conflict_do_update(
            index_elements=["key", "window_start"], set_={"count": c.count + 1}, where=c.count < limit
        )
        .returning(c.key)
    )


@cache
def _take_counters_statement(rows: int) -> PerDialect:
    """Built once per number of keys (2 or 3 in practice: the sender's hourly cap, the
    global one and, for SMS, the phone's daily quota)."""
    return PerDialect(lambda insert: _take_counters(insert, rows))


async def take_counters(session: DbSession, *, windows: list[tuple[str, datetime, int]]) -> set[str]:
    """Count one more of each (key, window start, limit) in one statement; returns the
    keys that were already at their limit (those are not counted).

    The others are counted all the same: a caller that refuses on any of them rolls
    its transaction back. Keys must differ.
    """
    refused = {key for key, _, limit in windows if limit <= 0}
    if refused:
        return refused
    params: dict[str, object] = {}
    for i, (key, window_start, limit) in enumerate(windows):
        params[f"k{i}"], params[f"w{i}"], params[f"l{i}"] = key, window_start, limit
    statement = _take_counters_statement(len(windows)).for_session(session)
    taken = {row[0] for row in (await run(session, statement, params)).all()}
    return {key for key, _, _ in windows} - taken


_RELEASE_COUNTER = (
    update(counters)
    .where(
        counters.c.key == bindparam("the_key"),
        counters.c.window_start == bindparam("the_window"),
        counters.c.count > 0,
    )
    .values(count=counters.c.count - 1)
)


async def release_counter(session: DbSession, *, key: str, window_start: datetime) -> None:
    """Give back one count (a delivery that failed uses up no quota)."""
    await run(session, _RELEASE_COUNTER, {"the_key": key, "the_window": window_start})


_TAKE_COOLDOWN = PerDialect(
    lambda insert: (
        insert(cooldowns)
        .values(key=bindparam("the_key"), until=bindparam("the_until"))
        .on_conflict_do_update(
            index_elements=["key"],
            set_={"until": bindparam("the_until")},
            where=cooldowns.c.until <= bindparam("now", type_=cooldowns.c.until.type),
        )
        .returning(cooldowns.c.until)
    )
)
_COOLDOWN_UNTIL = select(cooldowns.c.until).where(cooldowns.c.key == bindparam("the_key"))
_CLEAR_COOLDOWN = delete(cooldowns).where(cooldowns.c.key == bindparam("the_key"))


async def take_cooldown(session: DbSession, *, key: str, now: datetime, until: datetime) -> datetime | None:
    """Start a cooldown for `key` unless one runs; returns the running one's end, else None."""
    params = {"the_key": key, "the_until": until, "now": now}
    if (await run(session, _TAKE_COOLDOWN.for_session(session), params)).first() is not None:
        return None
    return await cooldown_until(session, key=key) or now


async def cooldown_until(session: DbSession, *, key: str) -> datetime | None:
    return (await run(session, _COOLDOWN_UNTIL, {"the_key": key})).scalar()


async def clear_cooldown(session: DbSession, *, key: str) -> None:
    await run(session, _CLEAR_COOLDOWN, {"the_key": key})


_PHONE_LOCK = select(phone_locks.c.locked_until, phone_locks.c.failures).where(
    phone_locks.c.phone == bindparam("the_phone")
)
# The same, holding the phone's row until the transaction ends (an upsert that changes
# nothing): parallel code checks of one phone then run one after another on PostgreSQL,
# so a burst of guesses cannot all pass the lock before any of them is counted. Not on
# SQLite, which runs one write transaction at a time anyway (and would write a row).
_HOLD_PHONE_LOCK = PerDialect(
    lambda insert: (
        insert(phone_locks)
        .values(phone=bindparam("the_phone"), failures=0, locked_until=None)
        .on_conflict_do_update(index_elements=["phone"], set_={"failures": phone_locks.c.failures})
        .returning(phone_locks.c.locked_until, phone_locks.c.failures)
    )
)


async def phone_lock_state(
    session: DbSession, *, phone: str, now: datetime, hold: bool = False
) -> tuple[datetime | None, int]:
    """(end of the running lock or None, wrong codes in the current run) for `phone`;
    with `hold`, the phone's lock row stays held until the transaction ends."""
    # SQLite transactions hold the database's write lock from BEGIN IMMEDIATE: no row to hold
    statement = _HOLD_PHONE_LOCK.for_session(session) if hold and dialect_of(session) != "sqlite" else _PHONE_LOCK
    row = (await run(session, statement, {"the_phone": phone})).first()
    if row is None:
        return None, 0
    until, failures = row
    return (until if until is not None and until > now else None), failures


def _record_wrong_code(insert: type) -> object:
    locks = phone_locks.c
    now = bindparam("now", type_=locks.locked_until.type)
    lock_until = bindparam("lock_until", type_=locks.locked_until.type)
    lock_after = bindparam("lock_after", type_=locks.failures.type)
    expired = and_(locks.locked_until.is_not(None), locks.locked_until <= now)
    failures = case((expired, 1), else_=locks.failures + 1)
    return (
        insert(phone_locks)  # type: ignore[operator]
        .values(phone=bindparam("the_phone"), failures=1, locked_until=bindparam("first_lock_until"))
        .on_conflict_do_update(
            index_elements=["phone"],
            set_={
                "failures": failures,
                "locked_until": case(
                    (failures >= lock_after, lock_until),
                    (expired, None),
                    else_=locks.locked_until,
                ),
            },
        )
        .returning(locks.failures, locks.locked_until)
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
    row = (await run(session, _RECORD_WRONG_CODE.for_session(session), params)).first()
    if row is not None and row[1] is not None and row[0] >= lock_after:
        return row[1]  # type: ignore[no-any-return]
    return None


_RECORD_RIGHT_CODE = (
    update(phone_locks)
    .where(
        phone_locks.c.phone == bindparam("the_phone"),
        or_(phone_locks.c.locked_until.is_(None), phone_locks.c.locked_until <= bindparam("now")),
    )
    .values(failures=0, locked_until=None)
)


async def record_right_code(session: DbSession, *, phone: str, now: datetime) -> None:
    """A right code ends the run of wrong ones (an active lock stays until it ends)."""
    await run(session, _RECORD_RIGHT_CODE, {"the_phone": phone, "now": now})
