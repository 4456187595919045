"""Housekeeping: rows whose time has passed, deleted in short batches (`washgate purge`).

Without it the limit counters, cooldowns, codes and refresh tokens grow by a row or more
per send and sign-in for good. What goes, and when:

- rate counters two days after their window began (the longest window is a day);
- cooldowns a day after they ended (an ended cooldown is the same as none);
- codes seven days after they expired, but not CallUp's (an order shows its code's state);
- refresh tokens a day after they expired (an expired token is refused either way).

Kept for good: accounts, phones, cards, sessions, orders and phone locks (a run of wrong
codes outlives resends by design). Each batch reads the keys of up to `batch` rows in a
read-only session (no write lock on SQLite), then deletes those still past their time in
a short transaction of its own, so a running server's writes wait for at most one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, select, tuple_

from core.db import Database, run
from models import Cooldown, RateCounter, RefreshToken, VerificationCode
from resolvers.callup import PURPOSE as CALLUP_PURPOSE

BATCH = 2000


@dataclass(frozen=True)
class Expiry:
    """Rows of `table` past their time (`expired(cutoff)`), `cutoff` being `now - keep`."""

    table: Table
    keep: timedelta
    expired: Callable[[datetime], ColumnElement[bool]]


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


_counters, _cooldowns = _table(RateCounter), _table(Cooldown)
_codes, _refresh_tokens = _table(VerificationCode), _table(RefreshToken)

EXPIRIES = (
    Expiry(_counters, timedelta(days=2), lambda cutoff: _counters.c.window_start < cutoff),
    Expiry(_cooldowns, timedelta(days=1), lambda cutoff: _cooldowns.c.until < cutoff),
    Expiry(
        _codes,
        timedelta(days=7),
        lambda cutoff: (_codes.c.expires_at < cutoff) & (_codes.c.purpose != CALLUP_PURPOSE),
    ),
    Expiry(_refresh_tokens, timedelta(days=1), lambda cutoff: _refresh_tokens.c.expires_at < cutoff),
)


async def purge_expired(*, db: Database, now: datetime, batch: int = BATCH) -> dict[str, int]:
    """Delete every row past its time; returns the number deleted per table."""
    return {expiry.table.name: await _purge(db, expiry, cutoff=now - expiry.keep, batch=batch) for expiry in EXPIRIES}


async def _purge(db: Database, expiry: Expiry, *, cutoff: datetime, batch: int) -> int:
    key = tuple_(*expiry.table.primary_key.columns)
    find = select(*expiry.table.primary_key.columns).where(expiry.expired(cutoff)).limit(batch)
    deleted = 0
    while True:
        async with db.session(read_only=True) as session:
            keys = [tuple(row) for row in (await run(session, find, {})).all()]
        if not keys:
            return deleted
        async with db.session() as session:
            # still past its time: a key read above may have been written again since
            result = await run(session, delete(expiry.table).where(key.in_(keys), expiry.expired(cutoff)), {})
            await session.commit()
        deleted += result.rowcount
        if len(keys) < batch:
            return deleted
