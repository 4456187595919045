"""SQLite: another process's write lock is waited for without blocking the loop; this
process's transactions take turns on its one connection."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, make_url, select, text, update

from core.db import run
from core.sqlite_checkpoint import CHECKPOINT_EVERY
from models import RateCounter, User


@pytest.fixture
def sqlite_path(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    return make_url(database_url).database or ""


async def test_a_foreign_write_lock_is_waited_for_while_the_loop_serves_others(app, client, deliveries, sqlite_path):
    held = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        other = sqlite3.connect(sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(5)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert held.wait(5)
    send = asyncio.create_task(client.post("/api/v2/auth/send/otp", json={"phone": "+79161234567"}))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    health = await client.get("/healthz")
    assert health.status_code == 200 and time.monotonic() - started < 0.5
    assert not send.done()
    release.set()
    response = await send
    holder.join()
    assert response.status_code == 201
    assert len(deliveries.messages) == 1


async def test_transactions_take_turns_on_the_process_connection_in_arrival_order(app, sqlite_path):
    db = app.state.db
    events: list[str] = []

    async def transaction(name: str, delay: float, hold: float) -> None:
        await asyncio.sleep(delay)
        async with db.session() as session:
            await run(session, text("SELECT 1"), {})
            events.append(f"{name} begins")
            await asyncio.sleep(hold)  # e.g. a password hash in a thread, inside the transaction
            events.append(f"{name} ends")
            await session.commit()
        # after the commit the connection is free again, even inside the block

    await asyncio.gather(transaction("a", 0, 0.05), transaction("b", 0.01, 0), transaction("c", 0.02, 0))
    assert events == ["a begins", "a ends", "b begins", "b ends", "c begins", "c ends"]


async def test_a_read_only_session_reads_without_the_write_lock_and_refuses_writes(app, sqlite_path):
    """`read_only` sessions (the GraphQL viewer) read while another process holds the
    write lock, and cannot write."""
    users = User.__table__  # type: ignore[attr-defined]
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with app.state.db.session(read_only=True) as session:
            started = time.monotonic()
            rows = (await run(session, select(users.c.id), {})).all()
            assert rows == [] and time.monotonic() - started < 0.5
            with pytest.raises(RuntimeError):
                await run(session, update(users).values(name="x"), {})
            with pytest.raises(RuntimeError):
                await session.exec(update(users).values(name="x"))
            with pytest.raises(RuntimeError):
                session.add(User(name="x"))
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.parametrize("long_wal", [False, True])
async def test_wal_checkpoints_run_off_the_loop_and_reach_the_database_file(app, sqlite_path, monkeypatch, long_wal):
    """The serving connection does not checkpoint inside a COMMIT; a worker thread
    copies the WAL into the database file every CHECKPOINT_EVERY commits, and the WAL
    starts over: by itself after a PASSIVE copy that nothing raced, or by a RESTART
    (holding the write turn) once the WAL has grown to RESTART_FRAMES."""
    from core import sqlite_checkpoint

    if long_wal:
        monkeypatch.setattr(sqlite_checkpoint, "RESTART_FRAMES", 1)
    modes: list[str] = []
    run_checkpoint = sqlite_checkpoint.Checkpointer._run

    def recorded(self: Any, mode: str) -> tuple[bool, int]:
        modes.append(mode)
        return run_checkpoint(self, mode)

    monkeypatch.setattr(sqlite_checkpoint.Checkpointer, "_run", recorded)
    counters = RateCounter.__table__  # type: ignore[attr-defined]
    db = app.state.db
    window = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(CHECKPOINT_EVERY + 5):
        async with db.session() as session:
            await run(session, insert(counters), {"key": f"wal-{i}", "window_start": window, "count": 1})
            await session.commit()

    def rows_in_the_database_file() -> int:
        # immutable=1 reads the database file alone, not the WAL
        file = sqlite3.connect(f"file:{sqlite_path}?immutable=1", uri=True)
        try:
            return file.execute("SELECT count(*) FROM rate_counters WHERE key LIKE 'wal-%'").fetchone()[0]
        finally:
            file.close()

    deadline = time.monotonic() + 5
    while rows_in_the_database_file() < CHECKPOINT_EVERY and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert rows_in_the_database_file() >= CHECKPOINT_EVERY
    assert db.raw_sqlite().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert db.raw_sqlite().execute("PRAGMA journal_size_limit").fetchone()[0] == 64 * 2**20  # cut back on restart
    while db.checkpoints._task is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert modes == (["PASSIVE", "RESTART"] if long_wal else ["PASSIVE"])
    # the next commit writes the WAL from its start
    async with db.session() as session:
        await run(session, insert(counters), {"key": "wal-after", "window_start": window, "count": 1})
        await session.commit()
    _busy, frames, _copied = db.raw_sqlite().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert 0 < frames < 10


async def test_another_process_reading_does_not_hold_up_the_wal_restart(app, sqlite_path, monkeypatch, caplog):
    """A RESTART waits for other connections' readers, holding this process's turn: a
    reader left open elsewhere (a report, a backup, a sqlite3 shell) froze every request
    for the whole 30 s busy timeout, every 1000 commits. It now gives up after
    RESTART_WAIT_SECONDS, says so once, and starts the WAL over once the reader is gone."""
    from core import sqlite_checkpoint

    monkeypatch.setattr(sqlite_checkpoint, "RESTART_FRAMES", 1)
    counters = RateCounter.__table__  # type: ignore[attr-defined]
    db = app.state.db
    window = datetime(2026, 1, 1, tzinfo=UTC)

    async def commit_a_round(name: str) -> float:
        """CHECKPOINT_EVERY commits, then the checkpoint they start; its duration."""
        for i in range(CHECKPOINT_EVERY):
            async with db.session() as session:
                await run(session, insert(counters), {"key": f"{name}-{i}", "window_start": window, "count": 1})
                await session.commit()
        started = time.monotonic()
        while db.checkpoints._task is not None and time.monotonic() < started + 60:
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    reader = sqlite3.connect(sqlite_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM users").fetchone()  # holds its snapshot of the WAL
    with caplog.at_level("INFO", logger="washgate.db"):
        assert await commit_a_round("held") < 2
        assert await commit_a_round("still-held") < 2
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and warnings[0].startswith("WAL not started over")
        reader.execute("COMMIT")
        reader.close()
        await commit_a_round("free")
        assert "WAL started over again" in [r.getMessage() for r in caplog.records]
    async with db.session() as session:  # the next commit writes the WAL from its start
        await run(session, insert(counters), {"key": "after", "window_start": window, "count": 1})
        await session.commit()
    _busy, frames, _copied = db.raw_sqlite().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert 0 < frames < 10


async def test_a_constraint_violation_is_sqlalchemys_integrity_error_on_every_path(app):
    """Prebuilt statements run on the SQLite driver directly; their errors are still
    SQLAlchemy's exceptions, as on PostgreSQL."""
    from sqlalchemy.exc import IntegrityError

    counters = RateCounter.__table__  # type: ignore[attr-defined]
    values = {"key": "dup-secret-value", "window_start": datetime(2026, 1, 1, tzinfo=UTC), "count": 1}
    async with app.state.db.session() as session:
        await run(session, insert(counters), values)
        with pytest.raises(IntegrityError) as error:
            await run(session, insert(counters), values)
        await session.rollback()
    assert "INSERT INTO rate_counters" in str(error.value)
