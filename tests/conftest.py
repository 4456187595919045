"""Test setup: a real database (SQLite file, or PostgreSQL with WASHGATE_TEST_POSTGRES_URL),
migrated once per run, emptied between tests; the app runs with its lifespan."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

# Environment first, before anything reads settings.
os.environ.setdefault("WASHGATE_ENV", "development")
for _name in list(os.environ):
    if _name.startswith("WASHGATE_") and _name not in ("WASHGATE_ENV", "WASHGATE_TEST_POSTGRES_URL"):
        del os.environ[_name]

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import models  # noqa: F401
from core.db import make_engine
from core.migrate import upgrade
from core.settings import Settings
from tests.support import RecordingDelivery
from washgate.app import create_app

TEST_SECRET = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**overrides): settings for this test's app")
    config.addinivalue_line("markers", "real_delivery: keep the configured delivery (log or webhook)")
    config.addinivalue_line("markers", "server_args(*args, **env): arguments and WASHGATE_* variables of `server`")


def _postgres_admin_url() -> str | None:
    return os.environ.get("WASHGATE_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly created, migrated database for this test run."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'test.db'}"
            upgrade(url)
            yield url
        return
    import asyncio

    import asyncpg

    name = f"washgate_test_{uuid.uuid4().hex[:12]}"
    plain = admin_url.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin_url.rpartition("/")
    url = f"{base}/{name}"
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def empty_database(url: str) -> None:
    engine = make_engine(url, pool=False)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
                )
            else:
                for table in tables:
                    await conn.execute(text(f'DELETE FROM "{table}"'))
    finally:
        await engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "env": "development",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("settings")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
async def app(
    database_url: str, settings_overrides: dict[str, Any], request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    await empty_database(database_url)
    application = create_app(make_settings(database_url, **settings_overrides))
    async with application.router.lifespan_context(application):
        if request.node.get_closest_marker("real_delivery") is None:
            application.state.services.delivery = RecordingDelivery()
        yield application


@pytest.fixture
def services(app: Any) -> Any:
    return app.state.services


@pytest.fixture
def deliveries(app: Any) -> RecordingDelivery:
    return app.state.services.delivery  # type: ignore[no-any-return]


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def fetch(app: Any) -> Any:
    """`await fetch(select(...))` -> all rows, in a session closed at once.

    (On SQLite the app has one connection: a test must not keep a session open
    across a request, or the request waits for it.)"""

    async def run(statement: Any) -> list[Any]:
        async with app.state.db.session() as db_session:
            return list((await db_session.exec(statement)).all())

    return run


@pytest.fixture
def execute(app: Any) -> Any:
    """`await execute(update(...))`: one statement, committed at once."""

    async def run(statement: Any) -> None:
        async with app.state.db.session() as db_session:
            await db_session.exec(statement)
            await db_session.commit()

    return run
