"""The carwash admin commands and `washgate demo` (run twice as an operator runs it)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from models import Carwash, ServiceToken
from washgate import admin
from washgate.cli import build_parser

WASHGATE = [sys.executable, "-m", "washgate.cli"]


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASHGATE_")}
    env.update(WASHGATE_DATABASE_URL=database_url, WASHGATE_LOG_LEVEL="warning")
    return subprocess.run([*WASHGATE, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'carwash-cli.db'}"


def test_demo_prints_the_same_seed_on_every_run(sqlite_url):
    first = run(sqlite_url, "demo", "--json")
    assert first.returncode == 0, first.stderr
    again = run(sqlite_url, "demo", "--json")
    assert again.returncode == 0, again.stderr
    assert first.stdout == again.stdout
    seeded = json.loads(first.stdout)
    assert list(seeded) == ["app", "service_token", "carwash", "user"]
    assert set(seeded["app"]) == {"app_id", "app_secret", "app_token"}
    assert set(seeded["service_token"]) == {"id", "token"} and seeded["service_token"]["id"].isdigit()
    assert seeded["carwash"] == {"id": "12345"}
    assert seeded["user"]["phone"] == "+79990000000" and seeded["user"]["id"].isdigit()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_database_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
        return
    admin_url = os.environ.get("WASHGATE_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("needs PostgreSQL")
    import asyncpg

    name = f"washgate_demo_{uuid.uuid4().hex[:10]}"

    async def sql(statement: str) -> None:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rpartition("/")[0] + "/" + name
    finally:
        asyncio.run(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_demo_runs_started_together_on_a_new_database_all_succeed(new_database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASHGATE_")}
    env.update(WASHGATE_DATABASE_URL=new_database_url, WASHGATE_LOG_LEVEL="warning")
    runs = [
        subprocess.Popen(
            [*WASHGATE, "demo", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in runs]
    assert [process.returncode for process in runs] == [0, 0, 0], [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1  # the same seed, created once


async def test_service_tokens_and_carwashes_actions(app, fetch):
    """The admin actions behind `service-tokens create|revoke` and `carwashes add` (in process: fast)."""
    db, services = app.state.db, app.state.services
    token = await admin.service_tokens_create(db, services, Namespace(name="Альфред"))
    assert set(token) == {"id", "token"} and token["token"].startswith("wgs_")
    [row] = await fetch(select(ServiceToken))
    assert str(row.id) == token["id"] and row.name == "Альфред" and token["token"] not in row.token_hash
    assert await admin.service_tokens_revoke(db, services, Namespace(id=token["id"])) == {
        "id": token["id"],
        "revoked": True,
    }
    for again in (token["id"], "abc", "999"):
        with pytest.raises(admin.AdminError):
            await admin.service_tokens_revoke(db, services, Namespace(id=again))
    with pytest.raises(admin.AdminError):
        await admin.service_tokens_create(db, services, Namespace(name=" "))

    added = await admin.carwashes_add(db, services, Namespace(id=77, name="Мойка", address=None, price=450))
    assert added == {"id": "77"}
    [carwash] = await fetch(select(Carwash))
    assert (carwash.id, carwash.name, carwash.price) == (77, "Мойка", 450)
    for bad in (
        Namespace(id=77, name="Другая", address=None, price=0),
        Namespace(id=0, name="M", address=None, price=0),
        Namespace(id=78, name="M", address=None, price=-1),
    ):
        with pytest.raises(admin.AdminError):
            await admin.carwashes_add(db, services, bad)


def test_the_commands_parse_as_documented():
    parser = build_parser()
    args = parser.parse_args(["service-tokens", "create", "--name", "N", "--json"])
    assert args.action is admin.service_tokens_create and args.json
    args = parser.parse_args(["service-tokens", "revoke", "5"])
    assert args.action is admin.service_tokens_revoke and args.id == "5"
    args = parser.parse_args(["carwashes", "add", "--id", "7", "--name", "N", "--price", "300", "--json"])
    assert (args.action, args.id, args.name, args.price, args.json) == (admin.carwashes_add, 7, "N", 300, True)
