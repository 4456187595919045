"""Domain events for subscriptions: in-process fan-out (PostgreSQL LISTEN/NOTIFY across processes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import Database
from core.settings import Settings

log = logging.getLogger("washgate.events")


class InProcessEventBus:
    """Topics of JSON-able payloads delivered to every subscriber of this process."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Any]]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._queues.clear()

    async def publish(self, topic: str, payload: Any) -> None:
        self._deliver(topic, payload)

    def _deliver(self, topic: str, payload: Any) -> None:
        for queue in list(self._queues.get(topic, ())):
            if queue.qsize() < 1000:
                queue.put_nowait(payload)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queues[topic].add(queue)
        try:
            yield queue
        finally:
            self._queues[topic].discard(queue)
            if not self._queues[topic]:
                self._queues.pop(topic, None)


class PostgresEventBus(InProcessEventBus):
    """Events shared by every server process of one PostgreSQL database.

    Publishing is `NOTIFY` (through the app's engine); one dedicated asyncpg connection
    per process `LISTEN`s and fans each notification out to this process's subscribers
    (its own notifications included, so a subscriber sees every change exactly once,
    whichever process made it). A lost listening connection is re-opened.
    """

    CHANNEL = "washgate_events"
    RECONNECT_SECONDS = 1.0

    def __init__(self, database_url: str, db: Database) -> None:
        super().__init__()
        self._dsn = _asyncpg_dsn(database_url)
        self._db = db
        self._listener: Any = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        await self._connect()

    async def stop(self) -> None:
        self._stopping = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
            self._reconnect_task = None
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            with contextlib.suppress(Exception):
                await listener.remove_listener(self.CHANNEL, self._on_notification)
            await listener.close()
        await super().stop()

    async def publish(self, topic: str, payload: Any) -> None:
        message = json.dumps({"topic": topic, "payload": payload}, separators=(",", ":"))
        async with self._db.engine.connect() as conn:
            await conn.execute(
                text("SELECT pg_notify(:channel, :message)"), {"channel": self.CHANNEL, "message": message}
            )
            await conn.commit()

    async def _connect(self) -> None:
        import asyncpg

        listener = await asyncpg.connect(self._dsn)
        await listener.add_listener(self.CHANNEL, self._on_notification)
        listener.add_termination_listener(self._on_lost)
        self._listener = listener

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, message: str) -> None:
        try:
            event = json.loads(message)
            topic, payload = event["topic"], event["payload"]
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed event notification")
            return
        if isinstance(topic, str):
            self._deliver(topic, payload)

    def _on_lost(self, _conn: Any) -> None:
        if not self._stopping and self._reconnect_task is None:
            log.warning("event listener connection lost; reconnecting")
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            while not self._stopping:
                try:
                    await self._connect()
                    log.info("event listener reconnected")
                    return
                except Exception:
                    await asyncio.sleep(self.RECONNECT_SECONDS)
        finally:
            self._reconnect_task = None


def _asyncpg_dsn(database_url: str) -> str:
    """`postgresql+asyncpg://...` -> the plain `postgresql://...` asyncpg connects to."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def make_event_bus(settings: Settings, db: Database) -> InProcessEventBus:
    """LISTEN/NOTIFY on PostgreSQL (several processes), in-process fan-out on SQLite (one)."""
    if settings.database_url.startswith("postgresql"):
        return PostgresEventBus(settings.database_url, db)
    return InProcessEventBus()
