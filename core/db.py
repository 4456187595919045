"""The database: one async engine per process, short sessions, dialect-aware upserts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util import await_
from sqlmodel.ext.asyncio.session import AsyncSession

from core import sqlite_inloop

# SQLite waits for another process's write lock in short steps (the loop never blocks
# longer than one step); BEGIN IMMEDIATE is retried asynchronously for up to LOCK_WAIT.
SQLITE_BUSY_STEP_MS = 20
SQLITE_LOCK_WAIT_SECONDS = 30.0


def make_engine(url: str, *, pool: bool = True) -> AsyncEngine:
    """An engine for `url`.

    SQLite gets one connection per process (a single writer never meets "database
    is locked"), run on the event loop (core.sqlite_inloop), WAL, foreign keys and
    `BEGIN IMMEDIATE`, so that transactions queue for the write lock instead of
    failing on lock upgrade; another process's lock is waited for asynchronously.
    """
    if url.startswith("sqlite"):
        database = make_url(url).database or ":memory:"
        options: dict[str, Any] = {
            "async_creator": sqlite_inloop.creator(database, busy_timeout_seconds=SQLITE_BUSY_STEP_MS / 1000)
        }
        if pool:
            options.update(pool_size=1, max_overflow=0, pool_timeout=60)
        else:
            options["poolclass"] = NullPool
        engine = create_async_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    options = {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True} if pool else {"poolclass": NullPool}
    return create_async_engine(url, **options)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "foreign_keys=ON",
            f"busy_timeout={SQLITE_BUSY_STEP_MS}",
            "synchronous=NORMAL",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            await_(asyncio.sleep(SQLITE_BUSY_STEP_MS / 1000))


class Database:
    """The engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session closed as the block ends.

        On SQLite it is closed inline rather than by AsyncSession's own exit (which
        closes in a new task and yields to the loop first), so the connection is back in
        the pool before any other request runs. Nothing here is held across the block:
        a session holds the connection only inside a transaction, so a slow webhook after
        a commit holds up no one.
        """
        session = self._sessions()
        try:
            yield session
        finally:
            if self.dialect == "sqlite":
                await session.close()  # runs inline on SQLite: nothing to interrupt
            else:
                await asyncio.shield(session.close())

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()


def insert_for(session: AsyncSession) -> Any:
    """The dialect's `insert` (with `on_conflict_do_*`) for this session's database."""
    bind = session.get_bind()
    return postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
