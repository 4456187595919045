"""The database: one engine per process, short sessions, dialect-aware upserts.

PostgreSQL runs through SQLAlchemy's async engine (asyncpg). SQLite, the embedded
default, runs through a synchronous engine on the event loop (`InlineSession`): every
statement is a few microseconds of local file I/O, while SQLAlchemy's async layer
costs several times that per call (a greenlet switch for every execute, commit and
close). Another process's write lock is waited for in short steps: each `BEGIN
IMMEDIATE` attempt blocks the loop for at most SQLITE_BUSY_STEP_MS, then the retry
sleeps asynchronously.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeAlias, TypeVar

from sqlalchemy import Connection, Engine, Executable, Result, Select, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from core.settings import Settings
from core.sqlite_checkpoint import Checkpointer
from core.sqlite_direct import PreparedCache, Rows
from core.turns import Turns

# SQLite waits for another process's write lock in short steps (the loop never blocks
# longer than one step); BEGIN IMMEDIATE is retried asynchronously for up to LOCK_WAIT.
SQLITE_BUSY_STEP_MS = 20
SQLITE_LOCK_WAIT_SECONDS = 30.0
SQLITE_TURN_WAIT_SECONDS = 60.0  # a request's wait for this process's connection
# journal_size_limit: a WAL that grew (a reader elsewhere kept it from starting over) is cut
# back to 64 MiB when it starts over, instead of keeping its largest size on disk for good.
SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "journal_size_limit=67108864")

T = TypeVar("T")


def make_engine(url: str, *, pool: bool = True, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An async engine for `url`: the server's on PostgreSQL; migrations on either.

    On SQLite (no pool; aiosqlite runs each call in its own thread, so waiting blocks no loop):
    WAL, foreign keys and `BEGIN IMMEDIATE`, with another process's lock waited for
    up to SQLITE_LOCK_WAIT_SECONDS (two `washgate migrate` or `demo` started together
    queue instead of failing).
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, poolclass=NullPool, connect_args={"timeout": SQLITE_LOCK_WAIT_SECONDS}, hide_parameters=True
        )
        _configure_sqlite(engine.sync_engine, busy_timeout_ms=int(SQLITE_LOCK_WAIT_SECONDS * 1000))
        event.listen(engine.sync_engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    options: dict[str, Any] = (
        {"pool_size": pool_size, "max_overflow": max_overflow, "pool_pre_ping": True}
        if pool
        else {"poolclass": NullPool}
    )
    return create_async_engine(url, hide_parameters=True, **options)  # no values (phones, hashes) in logged errors


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN
        cursor = dbapi_connection.cursor()
        for pragma in (f"busy_timeout={busy_timeout_ms}", *SQLITE_PRAGMAS):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()


class InlineSession:
    """AsyncSession's interface over the process's one SQLite connection, on the event loop.

    A session takes its turn on the connection (`core.turns`, in arrival order) when
    its transaction begins, with `BEGIN IMMEDIATE` on the driver, and gives it back when
    the transaction ends (commit, rollback or close). Core statements passed to `run`
    go straight to the driver (`core.sqlite_direct`); the ORM methods use a synchronous
    Session, made on first use, inside the same transaction. Nothing else may use the
    connection: the engine's "begin" hook refuses a transaction begun outside a turn.
    """

    def __init__(self, db: Database, *, read_only: bool = False) -> None:
        self._db = db
        self._orm: Session | None = None
        self._turn = False
        self._read_only = read_only

    @property
    def _sync(self) -> Session:
        if self._orm is None:
            self._orm = Session(self._db.sqlite_connection(), expire_on_commit=False)
        return self._orm

    async def _begin(self) -> None:
        if self._turn:
            return
        await self._db.turns.acquire(SQLITE_TURN_WAIT_SECONDS)  # like waiting for a pooled connection
        self._turn = True
        if self._read_only:  # each statement reads a consistent snapshot of its own (autocommit)
            return
        raw = self._db.raw_sqlite()
        deadline = time.monotonic() + SQLITE_LOCK_WAIT_SECONDS
        try:
            while True:
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:  # another process holds the write lock
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                await asyncio.sleep(SQLITE_BUSY_STEP_MS / 1000)
        except BaseException:
            self._end_turn()
            raise

    def _end_turn(self) -> None:
        if self._turn:
            self._turn = False
            self._db.turns.release()

    def _refuse_writes(self, statement: object = None) -> None:
        if self._read_only and not isinstance(statement, Select):
            raise RuntimeError("a read-only session runs SELECTs only")

    async def run(self, statement: Executable, params: dict[str, Any]) -> Any:
        self._refuse_writes(statement)
        await self._begin()
        prepared = self._db.prepared.get(statement, params)
        if prepared is None:
            return self._sync.connection().execute(statement, params)
        return prepared.run(self._db.raw_sqlite(), params)

    async def exec(self, statement: Any, **kwargs: Any) -> Any:
        self._refuse_writes(statement)
        await self._begin()
        return self._sync.exec(statement, **kwargs)

    async def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        await self._begin()
        return self._sync.get(entity, ident, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        self._refuse_writes()
        await self._begin()
        self._sync.flush(objects)

    async def refresh(self, instance: Any, attribute_names: Any = None, **kwargs: Any) -> None:
        await self._begin()
        self._sync.refresh(instance, attribute_names, **kwargs)

    def add(self, instance: Any) -> None:
        self._refuse_writes()
        self._sync.add(instance)

    async def delete(self, instance: Any) -> None:
        self._refuse_writes()
        await self._begin()
        self._sync.delete(instance)

    def expunge(self, instance: Any) -> None:
        self._sync.expunge(instance)

    def get_bind(self) -> Engine:
        return self._db.sync_engine

    async def commit(self) -> None:
        if self._read_only:  # nothing to keep: end the turn
            await self.rollback()
            return
        orm = self._orm
        try:
            if orm is not None:
                if orm.new or orm.dirty or orm.deleted:
                    await self._begin()  # the flush inside commit needs a transaction
                orm.commit()
            if self._turn:
                self._db.raw_sqlite().commit()  # what the ORM did not commit: the driver's statements
                if self._db.checkpoints is not None:
                    self._db.checkpoints.committed()
        except BaseException:
            self._rollback_driver()  # leave nothing open for the next turn
            raise
        finally:
            self._end_turn()

    async def rollback(self) -> None:
        try:
            if self._orm is not None:
                self._orm.rollback()
        finally:
            self._rollback_driver()

    async def close(self) -> None:
        try:
            if self._orm is not None:
                self._orm.close()
        finally:
            self._rollback_driver()

    def _rollback_driver(self) -> None:
        try:
            if self._turn:
                self._db.raw_sqlite().rollback()
        finally:
            self._end_turn()


DbSession: TypeAlias = AsyncSession | InlineSession


async def run(session: DbSession, statement: Executable, params: dict[str, Any]) -> Result[Any] | Rows:
    """A Core statement (on tables, not models) in the session's transaction, without the ORM.

    Rows come back as named tuples. For the hot paths: the ORM's per-statement work
    costs several times the statement itself; on SQLite the statement goes straight to
    the driver (`core.sqlite_direct`).
    """
    if isinstance(session, InlineSession):
        return await session.run(statement, params)
    connection = await session.connection()
    return await connection.execute(statement, params)


class Database:
    """The engine and its sessions (`InlineSession` on SQLite, `AsyncSession` elsewhere)."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.turns = Turns()
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self.sync_engine = create_engine(
                make_url(url).set(drivername="sqlite"),
                pool_size=1,
                max_overflow=0,
                pool_timeout=1,  # the one connection stays checked out (sqlite_connection)
                hide_parameters=True,
                connect_args={"timeout": SQLITE_BUSY_STEP_MS / 1000, "check_same_thread": False},
            )
            _configure_sqlite(self.sync_engine, busy_timeout_ms=SQLITE_BUSY_STEP_MS)
            event.listen(self.sync_engine, "begin", self._on_sqlite_begin)
            self._sqlite_connection: Connection | None = None
            self._raw_sqlite: Any = None
            self.prepared = PreparedCache(self.sync_engine.dialect)
            path = make_url(url).database
            self.checkpoints = (
                Checkpointer(
                    path,
                    self.turns,
                    turn_wait_seconds=SQLITE_TURN_WAIT_SECONDS,
                )
                if path and path != ":memory:"
                else None
            )
        else:
            self.checkpoints = None
            self.engine = make_engine(url, pool_size=pool_size, max_overflow=max_overflow)
            self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
            # reads in autocommit: no BEGIN and ROLLBACK round trips around a lone SELECT
            self._read_sessions = async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"), class_=AsyncSession, expire_on_commit=False
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.database_url, pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow
        )

    def _on_sqlite_begin(self, conn: Connection) -> None:
        """The ORM's transaction joins the one its session began on the driver."""
        if not self.turns.locked():
            raise RuntimeError("SQLite transaction begun outside a session's turn")
        raw = conn.connection.driver_connection
        if not raw.in_transaction:  # type: ignore[union-attr]
            raw.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]

    def sqlite_connection(self) -> Connection:
        """The process's one SQLite connection, kept open (sessions take turns on it)."""
        if self._sqlite_connection is None or self._sqlite_connection.closed:
            self._sqlite_connection = self.sync_engine.connect()
            self._raw_sqlite = self._sqlite_connection.connection.driver_connection
            if self.checkpoints is not None:  # checkpoints run in a worker thread instead
                self._raw_sqlite.execute("PRAGMA wal_autocheckpoint=0")
        return self._sqlite_connection

    def raw_sqlite(self) -> sqlite3.Connection:
        """The driver's connection under `sqlite_connection()`."""
        if self._sqlite_connection is None or self._sqlite_connection.closed:
            self.sqlite_connection()
        return self._raw_sqlite  # type: ignore[return-value]

    @asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[DbSession]:
        """A session closed as the block ends.

        Nothing here is held across the block: a session holds the connection only
        inside a transaction, so a slow webhook after a commit holds up no one.
        `read_only`: SELECTs only, each reading its own consistent snapshot, without
        BEGIN/ROLLBACK (SQLite: no write lock; PostgreSQL: autocommit). Writes are refused
        on SQLite, so the suite, run on both, keeps them out of read-only sessions.
        """
        if self.dialect == "sqlite":
            inline = InlineSession(self, read_only=read_only)
            try:
                yield inline
            finally:
                await inline.close()
            return
        session = (self._read_sessions if read_only else self._sessions)()
        try:
            yield session
        finally:
            await asyncio.shield(session.close())

    async def ping(self) -> bool:
        try:
            async with self.session() as session:
                await run(session, text("SELECT 1"), {})
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self.dialect == "sqlite":
            if self.checkpoints is not None:
                await self.checkpoints.close()
            if self._sqlite_connection is not None:
                self._sqlite_connection.close()
                self._sqlite_connection = None
            self.sync_engine.dispose()
        else:
            await self.engine.dispose()


def dialect_of(session: DbSession) -> str:
    return session.get_bind().dialect.name


def insert_for(session: DbSession) -> Any:
    """The dialect's `insert` (with `on_conflict_do_*`) for this session's database."""
    return postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert


class PerDialect(Generic[T]):
    """A statement built once per dialect from that dialect's `insert` (upserts).

    Hot statements are built once, with bind parameters, and executed with values:
    building a statement costs SQLAlchemy more than compiling (cached) and running it.
    """

    def __init__(self, build: Callable[[Any], T]) -> None:
        self._built = {"sqlite": build(sqlite.insert), "postgresql": build(postgresql.insert)}

    def for_session(self, session: DbSession) -> T:
        return self._built[dialect_of(session)]
