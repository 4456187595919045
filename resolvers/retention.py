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

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, Delete, Select, Table, and_, bindparam, delete, select

from core.db import Database, run
from models import Cooldown, RateCounter, RefreshToken, VerificationCode
from resolvers.callup import PURPOSE as CALLUP_PURPOSE

BATCH = 2000


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)  # SQL expressions do not compare as values
class Expiry:
    """Rows of `table` whose `time` column is before `now - keep` (and that match `only`).

    Its statements are built once, with bind parameters (the cutoff; the keys found)."""

    table: Table
    time: str
    keep: timedelta
    only: ColumnElement[bool] | None = None

    @cached_property
    def _past(self) -> ColumnElement[bool]:
        column = self.table.c[self.time]
        past = column < bindparam("cutoff", type_=column.type)
        return past if self.only is None else and_(past, self.only)

    @cached_property
    def _key(self) -> ColumnElement[Any]:
        """The primary key's leading column: the whole key of most tables, a rate counter's
        `key` (beside `window_start`). Deleting by it keeps to the primary key's index: an IN
        over (key, window_start) pairs made PostgreSQL scan every row of a window (a day's
        `sms-day` counters) for each batch, 0.4 s a batch at 20 000 rows."""
        return next(iter(self.table.primary_key.columns))

    @cached_property
    def find(self) -> Select[Any]:
        return select(self._key).where(self._past).limit(bindparam("batch"))

    @cached_property
    def remove(self) -> Delete:
        # still past its time: a key found may have been written again since (and a key's
        # other windows past their time go with it)
        return delete(self.table).where(self._key.in_(bindparam("keys", expanding=True)), self._past)


_codes = _table(VerificationCode)
EXPIRIES = (
    Expiry(_table(RateCounter), "window_start", timedelta(days=2)),
    Expiry(_table(Cooldown), "until", timedelta(days=1)),
    Expiry(_codes, "expires_at", timedelta(days=7), only=_codes.c.purpose != CALLUP_PURPOSE),
    Expiry(_table(RefreshToken), "expires_at", timedelta(days=1)),
)


async def purge_expired(*, db: Database, now: datetime, batch: int = BATCH) -> dict[str, int]:
    """Delete every row past its time; returns the number deleted per table."""
    return {expiry.table.name: await _purge(db, expiry, cutoff=now - expiry.keep, batch=batch) for expiry in EXPIRIES}


async def _purge(db: Database, expiry: Expiry, *, cutoff: datetime, batch: int) -> int:
    deleted = 0
    while True:
        async with db.session(read_only=True) as session:
            found = [row[0] for row in (await run(session, expiry.find, {"cutoff": cutoff, "batch": batch})).all()]
        if not found:
            return deleted
        async with db.session() as session:
            result = await run(session, expiry.remove, {"cutoff": cutoff, "keys": list(dict.fromkeys(found))})
            await session.commit()
        deleted += result.rowcount
        if len(found) < batch:
            return deleted
