"""Delivery through a real webhook receiver (signed per Standard Webhooks) and the dev log."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from sqlmodel import select
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from models import VerificationCode

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PHONE = "+79161234567"
SEND = "/api/v2/auth/send/otp"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A real HTTP server that records webhook posts and answers `status`."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.delay = 0.0
        self.endless_body: float | None = None  # seconds between 64 KiB chunks of a body without end
        self.body_bytes_sent = 0

        async def endless(pause: float) -> AsyncIterator[bytes]:
            while True:
                self.body_bytes_sent += 65536
                yield b"x" * 65536
                await asyncio.sleep(pause)

        async def hook(request: Request) -> Response:
            self.requests.append((dict(request.headers), await request.body()))
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.endless_body is not None:
                return StreamingResponse(endless(self.endless_body), status_code=self.status)
            return JSONResponse({}, status_code=self.status)

        config = uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    task = asyncio.create_task(hook.server.serve())
    while not hook.server.started:
        await asyncio.sleep(0.01)
    yield hook
    hook.server.should_exit = True
    await task


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, receiver: Receiver) -> dict[str, Any]:
    values: dict[str, Any] = {
        "delivery_webhook_url": receiver.url,
        "delivery_webhook_secret": SECRET,
        "delivery_timeout_seconds": 0.5,
    }
    marker = request.node.get_closest_marker("settings")
    values.update(marker.kwargs if marker else {})
    if "dribbling_receiver" in request.fixturenames:  # the test asked for it as its webhook
        values["delivery_webhook_url"] = request.getfixturevalue("dribbling_receiver")
    return values


@pytest.mark.real_delivery
async def test_webhook_gets_a_signed_payload(client, receiver):
    response = await client.post(SEND, json={"phone": PHONE}, headers={"Accept-Language": "ru"})
    assert response.status_code == 201
    [(headers, body)] = receiver.requests
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "otp.sms"
    data = payload["data"]
    assert data["phone"] == PHONE and data["purpose"] == "auth" and data["locale"] == "ru"
    assert len(data["code"]) == 4 and data["code"] in data["text"] and "код" in data["text"]
    assert "caller_id" not in data
    assert payload["timestamp"]
    assert data["code"] not in response.text


@pytest.mark.real_delivery
async def test_flash_call_payload_carries_the_caller_id(client, receiver):
    query = 'mutation { sendOtp(input: {phone: "+79161234567", channel: FLASH_CALL}) { __typename } }'
    await client.post("/graphql", json={"query": query})
    [(_, body)] = receiver.requests
    data = json.loads(body)["data"]
    assert json.loads(body)["type"] == "otp.flash_call"
    assert data["caller_id"] == "7487260" + data["code"]


@pytest.mark.real_delivery
@pytest.mark.parametrize("status", [500, 404])
async def test_non_2xx_is_a_failed_delivery_that_leaves_no_usable_code(client, receiver, fetch, status):
    receiver.status = status
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 500 and response.json()["code"] == 6
    [row] = await fetch(select(VerificationCode))
    assert row.revoked_at is not None
    receiver.status = 200
    assert (await client.post(SEND, json={"phone": PHONE})).status_code == 201


@pytest.mark.real_delivery
async def test_timeout_is_a_failed_delivery(client, receiver):
    receiver.delay = 2
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 500 and response.json()["code"] == 6


@pytest.mark.real_delivery
@pytest.mark.parametrize("pause", [0, 0.05])
async def test_a_2xx_with_an_endless_body_is_a_delivery_and_the_body_is_cut(client, receiver, fetch, pause):
    """The status is the answer: the body (endless, or dribbled past the deadline) is
    neither kept in memory nor waited for beyond the delivery timeout (0.5 s here)."""
    receiver.endless_body = pause
    started = time.monotonic()
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 201
    assert time.monotonic() - started < 2
    [row] = await fetch(select(VerificationCode))
    assert row.revoked_at is None
    assert receiver.body_bytes_sent < 16 * 1024 * 1024


@pytest.mark.real_delivery
async def test_a_non_2xx_with_an_endless_body_is_a_failed_delivery(client, receiver):
    receiver.status, receiver.endless_body = 503, 0.05
    started = time.monotonic()
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 500 and response.json()["code"] == 6
    assert time.monotonic() - started < 2


@pytest.fixture
async def dribbling_receiver() -> AsyncIterator[str]:
    """A receiver that sends its status line and then one header byte every 50 ms, forever:
    each read arrives well within httpx's read timeout."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while True:
                writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/hook"
    server.close()


@pytest.mark.real_delivery
async def test_the_delivery_timeout_bounds_the_whole_delivery(dribbling_receiver, client, fetch):
    started = time.monotonic()
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 500 and response.json()["code"] == 6
    assert time.monotonic() - started < 2
    [row] = await fetch(select(VerificationCode))
    assert row.revoked_at is not None


@pytest.mark.real_delivery
@pytest.mark.settings(delivery_webhook_url="http://127.0.0.1:9/hook")
async def test_refused_connection_is_a_failed_delivery(client):
    response = await client.post(SEND, json={"phone": PHONE})
    assert response.status_code == 500 and response.json()["code"] == 6


@pytest.mark.real_delivery
@pytest.mark.settings(delivery_webhook_url=None, delivery_webhook_secret=None)
async def test_development_logs_the_code_at_warning(client, caplog):
    with caplog.at_level(logging.INFO, logger="washgate"):
        await client.post(SEND, json={"phone": PHONE})
    [record] = [r for r in caplog.records if r.name == "washgate.delivery"]
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"delivery type=otp.sms phone={PHONE} code=")


@pytest.mark.real_delivery
async def test_a_slow_webhook_does_not_hold_up_other_requests(client, receiver):
    receiver.delay = 0.4
    send = asyncio.create_task(client.post(SEND, json={"phone": PHONE}))

    async def delivery_started() -> None:
        while not receiver.requests:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(delivery_started(), 5)
    other = await client.post("/api/v2/auth/login", json={"phone": "+79161234568", "otp": "0000"})
    assert not send.done()
    assert other.status_code == 422
    assert (await send).status_code == 201
