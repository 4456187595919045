"""Domain events for subscriptions: in-process fan-out (PostgreSQL LISTEN/NOTIFY across processes)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.db import Database
from core.settings import Settings


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


def make_event_bus(settings: Settings, db: Database) -> InProcessEventBus:
    return InProcessEventBus()
