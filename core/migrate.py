"""Apply Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

log = logging.getLogger("washgate.migrate")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%": a percent-encoded password (p%40ss) must reach the engine as is
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or opened, before any statement ran:
    refused, unknown host, timed out, bad credentials, no such database, a SQLite file that
    cannot be opened. (SQLAlchemy wraps a failed connect as a DBAPIError without a statement;
    socket errors pass through as OSError.)"""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        return exc.statement is None
    import asyncpg

    return isinstance(exc, OSError | asyncpg.PostgresError | asyncpg.InterfaceError)


def upgrade(database_url: str) -> None:
    """Bring the database at `database_url` to the newest schema.

    Two processes started together (`washgate demo` twice, a server and `migrate`) may
    both try: when one fails because the other moved the schema under it, the database
    is at the newest schema anyway and that is success.
    """
    config = alembic_config(database_url)
    try:
        command.upgrade(config, "heads")
    except Exception as exc:
        if unreachable(exc) or not is_current(database_url):  # unreachable: no second wait for it
            raise
        log.info("the schema was brought up to date by another process at the same time")


def is_current(database_url: str) -> bool:
    """Whether the database's schema revisions are the newest ones."""
    from core.db import make_engine

    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())

    async def current() -> set[str]:
        engine = make_engine(database_url, pool=False)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda sync: set(MigrationContext.configure(sync).get_current_heads()))
        finally:
            await engine.dispose()

    return asyncio.run(current()) == heads
