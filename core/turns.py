"""Turns on the process's one SQLite connection: one transaction at a time.

A free turn is taken at once, without yielding to the loop. A transaction that finds
the turn taken waits, in arrival order, for a bounded time. A turn that is free goes
to whoever asks first, even while others wait: transactions on this connection run
without yielding (their statements are synchronous), so a request that takes a free
turn gives it back before a woken waiter runs, and that waiter finds it free.

asyncio.Lock keeps strict order instead: once anything held the turn across an await
(a WAL checkpoint in a worker thread), every later request queued behind the waiters,
each through a future and a timeout, for as long as load continued.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Turns:
    def __init__(self) -> None:
        self._busy = False
        self._waiters: deque[asyncio.Future[None]] = deque()

    def locked(self) -> bool:
        return self._busy

    async def acquire(self, timeout: float) -> None:
        """Take the turn; TimeoutError after `timeout` seconds of waiting."""
        if not self._busy:
            self._busy = True
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        first = True
        while self._busy:
            waiter: asyncio.Future[None] = loop.create_future()
            if first:
                self._waiters.append(waiter)
                first = False
            else:  # woken, but beaten to the turn: keep the place at the front
                self._waiters.appendleft(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException:  # timed out or cancelled (a done future is skipped by _wake_next)
                if waiter.done() and not waiter.cancelled() and not self._busy:
                    self._wake_next()  # woken, but leaving: the next one may go
                raise
        self._busy = True

    def release(self) -> None:
        self._busy = False
        self._wake_next()

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
