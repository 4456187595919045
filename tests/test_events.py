"""The events bus behind subscriptions: in-process on SQLite, LISTEN/NOTIFY on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from core.db import Database
from tests.conftest import make_settings
from washgate.events import InProcessEventBus, PostgresEventBus, make_event_bus


async def test_in_process_bus_delivers_to_the_topics_subscribers_only():
    bus = InProcessEventBus()
    await bus.start()
    async with bus.subscribe("carwash_orders:1") as mine, bus.subscribe("carwash_orders:2") as other:
        await bus.publish("carwash_orders:1", {"order_id": 5})
        assert await asyncio.wait_for(mine.get(), 1) == {"order_id": 5}
        assert other.empty()
    assert bus._queues == {}
    await bus.stop()


async def test_make_event_bus_picks_by_database(database_url):
    db = Database(database_url)
    bus = make_event_bus(make_settings(database_url), db)
    expected = PostgresEventBus if database_url.startswith("postgresql") else InProcessEventBus
    assert type(bus) is expected
    await db.dispose()


@pytest.fixture
def postgres_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY needs PostgreSQL (set WASHGATE_TEST_POSTGRES_URL)")
    return database_url


async def test_postgres_bus_reaches_a_subscriber_of_another_process(postgres_url):
    # Two buses with their own engines and listening connections stand for two server processes.
    db_a, db_b = Database(postgres_url), Database(postgres_url)
    publisher, receiver = PostgresEventBus(postgres_url, db_a), PostgresEventBus(postgres_url, db_b)
    await publisher.start()
    await receiver.start()
    try:
        async with receiver.subscribe("carwash_orders:7") as queue, receiver.subscribe("carwash_orders:8") as other:
            await publisher.publish("carwash_orders:7", {"order_id": 42})
            await publisher.publish("carwash_orders:7", {"order_id": 43})
            assert await asyncio.wait_for(queue.get(), 5) == {"order_id": 42}
            assert await asyncio.wait_for(queue.get(), 5) == {"order_id": 43}
            assert other.empty()
        # a topic of its own: the publisher's listener may still be receiving 42 and 43
        async with publisher.subscribe("carwash_orders:9") as own:
            await publisher.publish("carwash_orders:9", {"order_id": 44})
            assert await asyncio.wait_for(own.get(), 5) == {"order_id": 44}
            await asyncio.sleep(0.05)
            assert own.empty()  # its own notification arrives once
    finally:
        await publisher.stop()
        await receiver.stop()
        await db_a.dispose()
        await db_b.dispose()


async def test_postgres_bus_listens_again_after_losing_its_connection(postgres_url):
    db = Database(postgres_url)
    bus = PostgresEventBus(postgres_url, db)
    await bus.start()
    try:
        pid = bus._listener.get_server_pid()
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        async with bus.subscribe("carwash_orders:9") as queue:
            for _ in range(100):
                if (
                    bus._listener is not None
                    and not bus._listener.is_closed()
                    and bus._listener.get_server_pid() != pid
                ):
                    break
                await asyncio.sleep(0.05)
            await bus.publish("carwash_orders:9", {"order_id": 1})
            assert await asyncio.wait_for(queue.get(), 5) == {"order_id": 1}
    finally:
        await bus.stop()
        await db.dispose()
