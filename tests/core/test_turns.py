"""Turns on the SQLite connection: bounded waits in arrival order, free turns taken at once."""

from __future__ import annotations

import asyncio

import pytest

from core.turns import Turns


async def test_waiters_get_the_turn_in_arrival_order():
    turns, order = Turns(), []
    await turns.acquire(1)

    async def take(name: str) -> None:
        await turns.acquire(1)
        order.append(name)
        await asyncio.sleep(0)
        turns.release()

    tasks = [asyncio.create_task(take(name)) for name in "abc"]
    await asyncio.sleep(0)
    turns.release()
    await asyncio.gather(*tasks)
    assert order == ["a", "b", "c"] and not turns.locked()


async def test_a_wait_is_bounded_and_leaves_the_others_in_line():
    turns = Turns()
    await turns.acquire(1)
    with pytest.raises(TimeoutError):
        await turns.acquire(0.05)
    later = asyncio.create_task(turns.acquire(1))
    await asyncio.sleep(0)
    turns.release()
    await asyncio.wait_for(later, 1)
    assert turns.locked()


async def test_a_free_turn_is_taken_without_waiting_even_while_a_woken_waiter_is_due():
    """No convoy: a request that finds the turn free takes it synchronously; the woken
    waiter runs next and finds it free again."""
    turns, order = Turns(), []
    await turns.acquire(1)

    async def waiter() -> None:
        await turns.acquire(1)
        order.append("waiter")
        turns.release()

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    turns.release()  # the waiter is woken but has not run yet
    acquire = turns.acquire(1)
    await acquire  # free: taken at once
    order.append("newcomer")
    turns.release()
    await asyncio.wait_for(task, 1)
    assert order == ["newcomer", "waiter"] and not turns.locked()


async def test_a_woken_waiter_that_is_cancelled_passes_the_turn_on():
    turns = Turns()
    await turns.acquire(1)
    first = asyncio.create_task(turns.acquire(1))
    second = asyncio.create_task(turns.acquire(1))
    await asyncio.sleep(0)
    turns.release()  # wakes `first`
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    assert turns.locked()
