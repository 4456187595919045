"""WAL checkpoints for the server's SQLite connection, run off the event loop.

SQLite's automatic checkpoint runs inside whichever COMMIT crosses 1000 WAL pages:
there, on the event loop, it copies the pages back into the database file and syncs
both files, which stalls every request in flight. The serving connection turns it
off (`wal_autocheckpoint=0`). Every CHECKPOINT_EVERY commits, a connection of its own
in a worker thread copies the WAL with a PASSIVE checkpoint while this process goes
on committing (the copy and its syncs). If nothing was committed meanwhile, the next
write starts the WAL over by itself. Under sustained writes (or with other processes
writing) that moment may not come, so once the WAL has grown to RESTART_FRAMES the
checkpointer takes a turn on the serving connection like a transaction (this process
writes nothing meanwhile) and runs `wal_checkpoint(RESTART)`: it copies what was
committed since, syncs, and waits out writers and readers of other processes on the
same file, so the next write starts the WAL over. It waits RESTART_WAIT_SECONDS at most:
another process's long read (a report, a backup, an open `sqlite3` shell) would
otherwise hold the turn, and every request of this process, for the whole busy timeout
(30 s, every 1000 commits). Then the WAL goes on growing until a later try finds no
reader (logged once per such run). Holding the turn for the whole copy, every 100
commits, had stalled writes ~10 % of the time under load (11 ms a checkpoint).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from core.turns import Turns

CHECKPOINT_EVERY = 1000  # commits (a few WAL pages each)
RESTART_FRAMES = 16_384  # a WAL this long (64 MiB of 4 KiB pages) is started over, holding the turn
RESTART_WAIT_SECONDS = 0.2  # for other processes' readers and writers, holding the turn

log = logging.getLogger("washgate.db")


class Checkpointer:
    def __init__(self, path: str, turns: Turns, *, turn_wait_seconds: float) -> None:
        self._path = path
        self._turns = turns
        self._turn_wait = turn_wait_seconds
        self._restart_blocked = False
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
            # The copy and its syncs, while this process goes on committing. When nothing
            # was committed meanwhile, the next write starts the WAL over by itself.
            _blocked, frames = await asyncio.to_thread(self._run, "PASSIVE")
            if frames < RESTART_FRAMES:
                return
            # Writes never paused long enough (or other processes kept writing): the WAL
            # has grown; copy what was committed meanwhile and start it over, holding the
            # turn (~5-10 ms here: the syncs).
            await self._turns.acquire(self._turn_wait)
            try:
                blocked, frames = await asyncio.to_thread(self._run, "RESTART")
            finally:
                self._turns.release()
            if blocked and not self._restart_blocked:
                log.warning(
                    "WAL not started over: another connection to the database is reading or writing;"
                    " the WAL (%d MiB) keeps growing until it is gone",
                    frames * 4096 // 2**20,
                )
            elif not blocked and self._restart_blocked:
                log.info("WAL started over again")
            self._restart_blocked = bool(blocked)
        except Exception:  # the WAL only grows until the next try; nothing is lost
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._task = None

    def _run(self, mode: str) -> tuple[bool, int]:
        """A checkpoint in `mode`: (whether another connection kept it from finishing, the
        WAL's length in frames)."""
        if self._connection is None:
            self._connection = sqlite3.connect(
                self._path, timeout=RESTART_WAIT_SECONDS, isolation_level=None, check_same_thread=False
            )
        busy, frames, _copied = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return bool(busy), int(frames)

    async def close(self) -> None:
        task = self._task
        if task is not None:
            await asyncio.wait([task])
        if self._connection is not None:
            self._connection.close()
            self._connection = None
