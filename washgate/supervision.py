"""Workers of `washgate serve --workers N` end when their supervisor does.

uvicorn's supervisor starts the workers and, on SIGTERM or SIGINT, stops them. Killed
outright (SIGKILL, the OOM killer, a process manager that signals only the main
process), it cannot: its workers lived on, reparented, still answering on the port with
the old code and settings, and the next `washgate serve` found the port taken. As
gunicorn's workers do, each worker looks at its parent once a second and stops itself
(SIGTERM: the graceful shutdown, answering what is in flight) once it has changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator

SUPERVISOR_ENV = "_WASHGATE_SUPERVISOR_PID"  # set by `washgate serve` for its workers
CHECK_SECONDS = 1.0

log = logging.getLogger("washgate")


def mark_supervisor() -> None:
    """Called by the supervisor before it starts its workers (they inherit the environment)."""
    os.environ[SUPERVISOR_ENV] = str(os.getpid())


async def _watch(supervisor: int) -> None:
    while os.getppid() == supervisor:
        await asyncio.sleep(CHECK_SECONDS)
    log.warning("the supervisor (pid %d) is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.asynccontextmanager
async def watching_supervisor() -> AsyncIterator[None]:
    """For a worker's lifetime: stop it when its supervisor is gone. Nothing otherwise
    (one process, tests, a server embedded elsewhere)."""
    supervisor = int(os.environ.get(SUPERVISOR_ENV) or 0)
    if supervisor == 0 or os.getppid() != supervisor:
        yield
        return
    task = asyncio.get_running_loop().create_task(_watch(supervisor))
    try:
        yield
    finally:
        task.cancel()
