"""The HTTP connection's bounds on a request head, over real sockets (washgate.http_protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from uvicorn.server import ServerState

from washgate.http_protocol import BoundedHttpToolsProtocol


class QuickHeads(BoundedHttpToolsProtocol):
    head_timeout = 0.5
    body_timeout = 0.5
    max_head_bytes = 4096


async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Reads the whole body, then answers after 1 s: longer than a head or body may take,
    so only the request's arrival is timed."""
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if not message.get("more_body"):
            break
    await asyncio.sleep(1.0)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
async def port() -> AsyncIterator[int]:
    config = uvicorn.Config(slow_app, http=QuickHeads, log_config=None, lifespan="off")
    config.load()
    state = ServerState()
    server = await asyncio.get_running_loop().create_server(
        lambda: QuickHeads(config=config, server_state=state, app_state={}), "127.0.0.1", 0
    )
    yield server.sockets[0].getsockname()[1]
    server.close()
    for connection in list(state.connections):
        connection.shutdown()
    await server.wait_closed()


async def send_until_answered(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parts: list[bytes], pause: float
) -> bytes:
    """Each part in its own chunk, `pause` apart, until the server answers or closes:
    the answer's first line (b"" when closed without one)."""
    for part in parts:
        writer.write(part)
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.readline(), timeout=pause)
        except TimeoutError:
            continue
    raise AssertionError("every part sent, and the server neither answered nor closed")


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=5)  # until the server closes


async def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = asyncio.get_running_loop().time()
    assert await read_all(reader) == b""
    assert 0.4 < asyncio.get_running_loop().time() - started < 3
    writer.close()


async def test_a_head_dribbled_past_the_timeout_is_closed_unanswered(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = asyncio.get_running_loop().time()
    parts = [b"GET / HTTP/1.1\r\n", *[b"X-Slow: 1\r\n"] * 20]  # never finished
    assert await send_until_answered(reader, writer, parts, pause=0.1) == b""
    assert 0.4 < asyncio.get_running_loop().time() - started < 3
    writer.close()


async def test_a_head_over_the_limit_is_answered_431_and_the_connection_closed(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    big = b"X-Big: " + b"a" * 1000 + b"\r\n"
    status = await send_until_answered(reader, writer, [b"GET / HTTP/1.1\r\nHost: x\r\n", *[big] * 12], pause=0.05)
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    answer = await read_all(reader)
    assert answer.endswith(b"\r\n\r\nRequest header fields too large.")
    writer.close()


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",  # one long header
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: aaaaaaaaaa\r\n" * 300 + b"\r\n",  # many short ones
        b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # a long request line
    ],
)
async def test_a_head_over_the_limit_sent_whole_is_answered_431(port, caplog, head):
    """A head that begins and ends in one chunk is measured too."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # the pipelined request is not served
    answer = await read_all(reader)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert answer.endswith(b"\r\n\r\nRequest header fields too large.")
    writer.close()


@pytest.mark.parametrize("first", [100, 3000, 4000])
async def test_a_head_over_the_limit_in_two_pieces_is_answered_431(port, first):
    """The piece a head begins in counts too (it was left out: 64 KiB more got through)."""
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 6000 + b"\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status = await send_until_answered(reader, writer, [head[:first], head[first:]], pause=0.2)
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    writer.close()


async def test_a_complete_head_is_served_even_when_the_answer_takes_longer_than_the_head_timeout(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Fine: " + b"a" * 2000 + b"\r\n\r\n")
    status = await asyncio.wait_for(reader.readline(), timeout=5)
    assert status == b"HTTP/1.1 200 OK\r\n"
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # the same connection again
    rest = await read_all(reader)
    assert rest.endswith(b"ok") and b"HTTP/1.1 200 OK\r\n" in rest
    writer.close()


async def test_a_body_still_arriving_past_the_body_timeout_is_closed_unanswered(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    assert await send_until_answered(reader, writer, [head, *[b"x"] * 30], pause=0.1) == b""
    writer.close()


async def test_a_body_sent_in_pieces_within_the_body_timeout_is_served(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
    for part in (head, b"ab", b"cd"):  # 0.2 s in all: within the body timeout
        writer.write(part)
        await writer.drain()
        await asyncio.sleep(0.1)
    assert await asyncio.wait_for(reader.readline(), timeout=5) == b"HTTP/1.1 200 OK\r\n"
    writer.close()


async def test_a_pipelined_request_waiting_its_turn_is_not_timed_out_with_the_one_being_answered(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    first = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"  # answered after 1 s: twice the deadlines
    second = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"  # its body unread until then
    writer.write(first + second)
    await writer.drain()
    assert await asyncio.wait_for(reader.readline(), timeout=5) == b"HTTP/1.1 200 OK\r\n"
    writer.close()
