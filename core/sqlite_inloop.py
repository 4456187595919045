"""aiosqlite without its worker thread: each SQLite call runs on the event loop.

aiosqlite hands every call (cursor, execute, fetch, close) to a thread and back; on a
small machine those hand-offs cost more than the SQL itself. washgate keeps one SQLite
connection per process and every statement is short, so running them inline is faster
and keeps the same async interface for SQLAlchemy. Waiting for another process's write
lock happens in `core.db` with an async retry, never inside SQLite on the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import aiosqlite


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each job at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InLoopConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _RunNow()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InLoopConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, InLoopConnection]:
        return self._connect().__await__()


def creator(database: str, *, busy_timeout_seconds: float) -> Callable[[], Any]:
    """An `async_creator` for SQLAlchemy's aiosqlite dialect."""

    async def connect() -> InLoopConnection:
        connector = partial(sqlite3.connect, database, timeout=busy_timeout_seconds, check_same_thread=False)
        return await InLoopConnection(connector)

    return connect
