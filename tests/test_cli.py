"""The `washgate` command as a user runs it, and a real server over HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

WASHGATE = [sys.executable, "-m", "washgate.cli"]


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WASHGATE_")}
    env.update({"WASHGATE_DATABASE_URL": database_url, "WASHGATE_LOG_LEVEL": "info", **extra})
    return env


def run(database_url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WASHGATE, *args], env=_env(database_url, **extra), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def test_admin_commands_print_json(sqlite_url):
    app = run(sqlite_url, "apps", "create", "--name", "Driver app", "--json")
    assert app.returncode == 0, app.stderr
    created = json.loads(app.stdout)
    assert set(created) == {"app_id", "app_secret", "app_token"}
    assert re.fullmatch(r"[0-9a-f]{24}", created["app_id"])
    assert uuid.UUID(created["app_token"]).version == 4

    user = run(sqlite_url, "users", "create", "--phone", "+79161234567", "--name", "Ivan", "--json")
    assert user.returncode == 0, user.stderr
    user_id = json.loads(user.stdout)["id"]
    assert user_id.isdigit()
    duplicate = run(sqlite_url, "users", "create", "--phone", "+79161234567", "--json")
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr

    deleted = run(sqlite_url, "users", "delete", user_id, "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["id"] == user_id
    assert run(sqlite_url, "users", "delete", user_id).returncode == 1
    huge = run(sqlite_url, "users", "delete", "99999999999999999999")
    assert huge.returncode == 1 and "no user" in huge.stderr and "Traceback" not in huge.stderr

    blocked = run(sqlite_url, "apps", "block", created["app_id"], "--json")
    assert blocked.returncode == 0, blocked.stderr


def test_users_create_holds_email_and_password_to_the_api_rules(sqlite_url):
    short = run(sqlite_url, "users", "create", "--email", "ivan@example.com", "--password", "short7!", "--json")
    assert short.returncode == 1 and short.stdout == ""
    assert short.stderr.strip() == "washgate: --password: The password must be at least 8 characters long"
    bad = run(sqlite_url, "users", "create", "--email", "not-an-email", "--password", "long enough", "--json")
    assert bad.returncode == 1 and bad.stderr.strip() == "washgate: --email: Email must be valid"
    made = run(sqlite_url, "users", "create", "--email", "ivan@example.com", "--password", "long enough", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["id"] == "1"  # the refused ones left nothing behind
    # stored as the API spells it: the same address in other case and spacing is the same account
    again = run(sqlite_url, "users", "create", "--email", " IVAN@example.com ", "--password", "long enough")
    assert again.returncode == 1 and "exists" in again.stderr


def test_serve_refuses_workers_on_sqlite(sqlite_url):
    result = run(sqlite_url, "serve", "--workers", "2")
    assert result.returncode == 2 and "PostgreSQL" in result.stderr


def test_serve_refuses_production_without_key_and_webhook(sqlite_url):
    result = run(sqlite_url, "serve", WASHGATE_ENV="production")
    assert result.returncode == 2
    assert "WASHGATE_SECRET_KEY" in result.stderr and "WASHGATE_DELIVERY_WEBHOOK_URL" in result.stderr


CONFIG = "washgate: invalid configuration: "
# Nothing listens on port 1: a command that got past its settings fails at once instead of serving.
UNREACHABLE = "postgresql+asyncpg://washgate:s3cret@127.0.0.1:1/washgate"
REFUSED = "[Errno 111] Connect call failed ('127.0.0.1', 1)"
FORMS = "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE"


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "WASHGATE_LOG_LEVEL",
            "loud",
            "WASHGATE_LOG_LEVEL: unknown log level 'loud': one of critical, error, warning, info, debug, trace",
        ),
        ("WASHGATE_DATABASE_URL", "foo://bar", f"WASHGATE_DATABASE_URL: unsupported database 'foo'; use {FORMS}"),
        (
            "WASHGATE_OTP_TTL_SECONDS",
            "99999999999999",
            "WASHGATE_OTP_TTL_SECONDS: Input should be less than or equal to 315360000",
        ),
        (
            "WASHGATE_OTP_RESEND_SECONDS",
            "99999999999999999",
            "WASHGATE_OTP_RESEND_SECONDS: Input should be less than or equal to 315360000",
        ),
        (
            "WASHGATE_SMS_DAILY_QUOTA",
            "2147483648",
            "WASHGATE_SMS_DAILY_QUOTA: Input should be less than or equal to 1000000000",
        ),
        (
            "WASHGATE_DELIVERY_TIMEOUT_SECONDS",
            "inf",
            "WASHGATE_DELIVERY_TIMEOUT_SECONDS: Input should be a finite number",
        ),
        (
            "WASHGATE_DELIVERY_WEBHOOK_URL",
            "http://exa mple.com/",
            "WASHGATE_DELIVERY_WEBHOOK_URL: the URL has spaces or control characters (percent-encode them)",
        ),
        (
            "WASHGATE_DELIVERY_WEBHOOK_URL",
            "http://127.0.0.1:99999/x",
            "WASHGATE_DELIVERY_WEBHOOK_URL: the port must be a number from 1 to 65535",
        ),
        (
            "WASHGATE_TEST_PHONES",
            "+79990000001=12345",
            "WASHGATE_TEST_PHONES: the code of test phone +79990000001 has 5 digits; WASHGATE_OTP_LENGTH is 4",
        ),
        (
            "WASHGATE_OTP_LENGTH",
            "two",
            "WASHGATE_OTP_LENGTH: Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
)
@pytest.mark.parametrize("command", [("serve",), ("migrate",)])
def test_a_bad_setting_is_refused_in_one_line(command, name, value, line):
    result = run(UNREACHABLE, *command, **{name: value})
    assert (result.returncode, result.stdout, result.stderr) == (2, "", CONFIG + line + "\n")


def test_every_bad_setting_gets_its_line_and_no_secret_is_repeated():
    result = run(
        "postgresql+asyncpg://washgate:s3cret-pw@127.0.0.1:99999/washgate",
        "migrate",
        WASHGATE_SECRET_KEY="s3cret-key",
        WASHGATE_DELIVERY_WEBHOOK_SECRET="whsec_s3cret not base64",
        WASHGATE_DELIVERY_WEBHOOK_URL="https://sms.example:0/hook?token=s3cret-token",
        WASHGATE_OTP_MAX_ATTEMPTS="0",
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        CONFIG + "WASHGATE_DATABASE_URL: the port must be a number from 1 to 65535",
        CONFIG + "WASHGATE_DELIVERY_WEBHOOK_URL: the port must be a number from 1 to 65535",
        CONFIG + "WASHGATE_DELIVERY_WEBHOOK_SECRET: the delivery webhook secret must be whsec_ followed by base64"
        " (Standard Webhooks)",
        CONFIG + "WASHGATE_OTP_MAX_ATTEMPTS: Input should be greater than 0",
    ]
    assert "s3cret" not in result.stderr and "pydantic" not in result.stderr


def test_log_levels_are_uvicorns_in_any_case(sqlite_url):
    result = run(sqlite_url, "migrate", WASHGATE_LOG_LEVEL="TRACE")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "migrations applied\n" and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [("serve",), ("serve", "--demo"), ("migrate",), ("demo", "--json"), ("apps", "create", "--name", "A"), ("purge",)],
)
def test_an_unreachable_database_is_one_line_at_start(command):
    result = run(UNREACHABLE, *command)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"washgate: cannot use the database postgresql+asyncpg://washgate:***@127.0.0.1:1/washgate: {REFUSED}\n"
    )


def test_a_percent_encoded_password_reaches_the_database_hidden():
    result = run("postgresql+asyncpg://washgate:p%40ss@127.0.0.1:1/washgate", "migrate")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"washgate: cannot use the database postgresql+asyncpg://washgate:***@127.0.0.1:1/washgate: {REFUSED}\n"
    )


@pytest.mark.parametrize("command", [("migrate",), ("users", "create", "--phone", "+79161234567")])
def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path, command):
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'washgate.db'}"
    result = run(url, *command)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"washgate: cannot use the database {url}: unable to open database file\n"


def test_only_database_failures_lose_their_traceback():
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    from core.settings import Settings
    from washgate.cli import DatabaseUnavailable, using_database

    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://app:s3cret@db/washgate")
    locked = OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked\nmore"))
    with pytest.raises(DatabaseUnavailable) as unavailable, using_database(settings):
        raise locked
    assert (
        str(unavailable.value)
        == "washgate: cannot use the database postgresql+asyncpg://app:***@db/washgate: database is locked"
    )
    assert unavailable.value.__cause__ is locked
    for bug in (
        RuntimeError("a bug"),
        TypeError("connect() got an unexpected keyword argument"),
        ProgrammingError("SELECT nope", {}, Exception("no such column")),
        IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed")),
    ):
        with pytest.raises(type(bug)) as raised, using_database(settings):
            raise bug
        assert raised.value is bug


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    database_url: str, log_path: Path, *args: str, **extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real `washgate serve` process, ready; yields its base URL and the process."""
    port = _free_port()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [*WASHGATE, "serve", "--port", str(port), *args],
            env=_env(database_url, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """A real `washgate serve` process; yields its base URL and its log file."""
    marker = request.node.get_closest_marker("server_args")
    args, extra = (marker.args, marker.kwargs) if marker else ((), {})
    database_url = extra.pop("database_url", sqlite_url)
    log_path = tmp_path / "server.log"
    with serving(database_url, log_path, *args, **extra) as (base, _):
        yield base, log_path


TEST_PHONES = [f"+7999000{i:04d}" for i in range(1, 25)]


def test_a_killed_server_loses_nothing_it_acknowledged(sqlite_url, tmp_path):
    """Every registration answered 201 survives a SIGKILL right after it (WAL on SQLite)."""
    test_phones = ",".join(f"{phone}=1234" for phone in TEST_PHONES)
    log_path = tmp_path / "server.log"

    def register(base: str, phone: str) -> int:
        body = {"phone": phone, "otp": "1234", "isTermsAccepted": True, "isPromoTermsAccepted": False}
        response = httpx.post(f"{base}/api/v2/auth/register", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return int(response.json()["data"]["client"]["clientId"])

    with serving(sqlite_url, log_path, WASHGATE_TEST_PHONES=test_phones) as (base, process):
        with ThreadPoolExecutor(max_workers=8) as pool:
            acknowledged = dict(
                zip(TEST_PHONES, pool.map(lambda phone: register(base, phone), TEST_PHONES), strict=True)
            )
        process.kill()  # no shutdown, no checkpoint: the last commits live only in the WAL
        process.wait(timeout=20)
    with serving(sqlite_url, log_path, WASHGATE_TEST_PHONES=test_phones) as (base, _):
        for phone, client_id in acknowledged.items():
            response = httpx.post(f"{base}/api/v2/auth/login", json={"phone": phone, "otp": "1234"}, timeout=30)
            assert response.json()["data"]["type"] == "login-success"
            assert response.json()["data"]["client"]["clientId"] == client_id


def _logged_code(log_path: Path, phone: str) -> str:
    matches = re.findall(rf"delivery type=otp\.sms phone={re.escape(phone)} code=(\d+)", log_path.read_text())
    assert matches, log_path.read_text()
    return matches[-1]


def test_newcomer_flow_against_a_real_server(server):
    base, log_path = server
    assert "GraphiQL" in log_path.read_text()
    phone = "+79161234567"
    with httpx.Client(base_url=base) as http:
        assert http.post("/api/v2/auth/send/otp", json={"phone": phone}).status_code == 201
        code = _logged_code(log_path, phone)
        registered = http.post(
            "/api/v2/auth/register",
            json={"phone": phone, "otp": code, "isTermsAccepted": True, "isPromoTermsAccepted": False},
        )
        assert registered.status_code == 201
        access = registered.json()["data"]["tokens"]["accessToken"]
        me = http.post(
            "/graphql", json={"query": "{ me { phone { number } } }"}, headers={"Authorization": f"Bearer {access}"}
        )
        assert me.json() == {"data": {"me": {"phone": {"number": phone}}}}
        refresh_token = registered.json()["data"]["tokens"]["refreshToken"]
        assert http.get("/api/v2/auth/refresh", params={"refreshToken": refresh_token}).status_code == 200
        assert http.get(f"/v1/auth/{uuid.uuid4()}/{code}").status_code in (403, 404)
    time.sleep(0.3)
    log_text = log_path.read_text()
    assert refresh_token not in log_text and "refreshToken=***" in log_text
    assert f"/{code} " not in log_text and "/*** HTTP" in log_text
    # the code is in the development log only at the delivery line
    assert log_path.read_text().count(code) >= 1
    assert code not in registered.text


@pytest.fixture
def postgres_database() -> Iterator[tuple[str, Callable[[str], list[Any]]]]:
    """A new PostgreSQL database for a server of its own (dropped afterwards): its URL and
    `sql(statement)`, which runs a statement in it and returns the rows."""
    import asyncio

    import asyncpg

    admin_url = os.environ.get("WASHGATE_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("needs PostgreSQL")
    name = f"washgate_cli_{uuid.uuid4().hex[:10]}"
    admin = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    plain = admin.rpartition("/")[0] + "/" + name

    def sql(statement: str, url: str = plain) -> list[Any]:
        async def fetch() -> list[Any]:
            conn = await asyncpg.connect(url)
            try:
                return list(await conn.fetch(statement))
            finally:
                await conn.close()

        return asyncio.run(fetch())

    sql(f'CREATE DATABASE "{name}"', admin)
    try:
        yield admin_url.rpartition("/")[0] + "/" + name, sql
    finally:
        sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin)


def start_two_workers(database_url: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`washgate serve --workers 2` on `port`, once it answers /readyz."""
    command = [*WASHGATE, "serve", "--port", str(port), "--workers", "2", "--no-access-log"]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=_env(database_url), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.3)


def stop(*processes: subprocess.Popen[bytes] | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def test_attempt_limit_holds_across_server_processes(tmp_path, postgres_database):
    database_url, sql = postgres_database
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    process = start_two_workers(database_url, port, log_path)
    try:
        phone = "+79161234567"
        assert httpx.post(f"{base}/api/v2/auth/send/otp", json={"phone": phone}).status_code == 201
        code = _logged_code(log_path, phone)
        wrong = "".join(str((int(c) + 1) % 10) for c in code)

        def guess(_: int) -> int:
            return httpx.post(f"{base}/api/v2/auth/login", json={"phone": phone, "otp": wrong}, timeout=30).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(guess, range(48)))
        assert set(statuses) == {422}
        assert [row["attempts"] for row in sql("SELECT attempts FROM verification_codes")] == [5]
        right = httpx.post(f"{base}/api/v2/auth/login", json={"phone": phone, "otp": code})
        assert right.status_code == 422
    finally:
        stop(process)


def test_workers_stop_when_their_supervisor_is_killed(tmp_path, postgres_database):
    """SIGKILLed, uvicorn's supervisor cannot stop its workers: they went on serving the
    port, and the next `washgate serve` on it failed with 'Address already in use'."""
    import signal

    database_url, _ = postgres_database
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    first = start_two_workers(database_url, port, tmp_path / "first.log")
    second = None
    try:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the orphaned workers stop by themselves
            try:
                httpx.get(f"{base}/healthz", timeout=1)
            except httpx.HTTPError:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the workers still answer after their supervisor was killed")
        assert "the supervisor (pid" in (tmp_path / "first.log").read_text()
        second = start_two_workers(database_url, port, tmp_path / "second.log")  # the port is free again
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        stop(first, second)


@pytest.mark.server_args(WASHGATE_MAX_BODY_BYTES="4096")
def test_a_websocket_message_is_capped_like_a_request_body(server):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    base, _ = server
    url = base.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 8192}}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_a_huge_request_head_is_refused_with_431_and_the_server_keeps_serving(server):
    base, log_path = server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /api/v2/auth/send/otp HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        for _ in range(512):  # up to 4 MiB of header lines, until the server answers
            try:
                sock.sendall(b"X-Pad: " + b"a" * 8192 + b"\r\n")
            except ConnectionError:
                break
            sock.settimeout(0.05)
            try:
                answer = sock.recv(4096)
                break
            except TimeoutError:
                continue
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    headers = {"X-Pad": "a" * 8000}  # a large but sane head is served
    assert httpx.get(f"{base}/healthz", headers=headers).json() == {"status": "ok"}
    assert "Request head larger than 65536 bytes refused." in log_path.read_text()


def test_a_client_leaving_before_its_body_ends_is_noted_without_a_traceback(server):
    base, log_path = server
    port = int(base.rsplit(":", 1)[1])
    for path in ("/api/v2/auth/send/otp", "/graphql", "/auth/oauth/token"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                'Content-Length: 100\r\n\r\n{"phone":'.encode()
            )
            time.sleep(0.2)
    deadline = time.monotonic() + 5
    while log_path.read_text().count("client left before its request body ended") < 3:
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
    log = log_path.read_text()
    assert "Traceback" not in log and "unhandled error" not in log and "ERROR" not in log
    assert "client left before its request body ended: POST /graphql" in log
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}


def test_purge_runs_beside_a_serving_process_and_keeps_what_is_live(server, sqlite_url):
    base, _ = server
    assert httpx.post(f"{base}/api/v2/auth/send/otp", json={"phone": "+79161234567"}).status_code == 201
    purged = run(sqlite_url, "purge", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout) == {
        "deleted": {"rate_counters": 0, "cooldowns": 0, "verification_codes": 0, "refresh_tokens": 0}
    }
    again = httpx.post(f"{base}/api/v2/auth/send/otp", json={"phone": "+79161234567"})
    assert again.status_code == 429  # the cooldown it kept still runs
