"""WAL checkpoints for the server's SQLite connection, run in a worker thread.

SQLite's automatic checkpoint runs inside whichever COMMIT crosses 1000 WAL pages:
there, on the event loop, it copies the pages back into the database file and syncs
both files, which stalls every request in flight. The serving connection turns it
off (`wal_autocheckpoint=0`); every CHECKPOINT_EVERY commits a checkpoint takes a turn
on the connection like a transaction (so this process writes nothing meanwhile) and runs
`wal_checkpoint(RESTART)` on a connection of its own in a worker thread, where the copy
and the syncs wait without holding up the loop. RESTART also waits out (busy timeout)
writers of other processes on the same file, so the checkpoint completes and the next
write starts the WAL file over: it stays small even with several servers writing.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from core.turns import Turns

CHECKPOINT_EVERY = 100  # commits (a few WAL pages each)

log = logging.getLogger("washgate.db")


class Checkpointer:
    def __init__(self, path: str, turns: Turns, *, turn_wait_seconds: float, busy_timeout: float) -> None:
        self._path = path
        self._turns = turns
        self._turn_wait = turn_wait_seconds
        self._busy_timeout = busy_timeout
        self._commits = 0
        self._task: asyncio.Task[None] | None = None
        self._connection: sqlite3.Connection | None = None

    def committed(self) -> None:
        """Count a commit of the serving connection; start a checkpoint when due."""
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and self._task is None:
            self._commits = 0
            self._task = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await self._turns.acquire(self._turn_wait)
            try:
                await asyncio.to_thread(self._run)
            finally:
                self._turns.release()
        except Exception:  # the WAL only grows until the next try; nothing is lost
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._task = None

    def _run(self) -> None:
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        self._connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()

    async def close(self) -> None:
        task = self._task
        if task is not None:
            await asyncio.wait([task])
        if self._connection is not None:
            self._connection.close()
            self._connection = None
