"""graphql-transport-ws frames: malformed ones close the connection with 4400 (nothing
logged), request-level errors come back as the protocol's `error` message, and only
graphql-transport-ws is spoken."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from tests.test_cli import serving

TYPENAME = "query { __typename }"
NAMED = "query A { __typename }"


@asynccontextmanager
async def connected(app: Any, subprotocol: str = "graphql-transport-ws") -> AsyncIterator[Any]:
    async with ASGIWebSocketTransport(app=app) as transport:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with aconnect_ws("http://testserver/graphql", http, subprotocols=[subprotocol]) as ws:
                yield ws


@asynccontextmanager
async def acknowledged(app: Any) -> AsyncIterator[Any]:
    """An anonymous graphql-transport-ws connection past connection_init."""
    async with connected(app) as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        yield ws


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


NOT_JSON = "WebSocket message must be valid JSON"
NOT_AN_OBJECT = "The message must be a JSON object with a string type"
MALFORMED = [
    pytest.param("[]", NOT_AN_OBJECT, id="array"),
    pytest.param("null", NOT_AN_OBJECT, id="null"),
    pytest.param('{"type":5}', NOT_AN_OBJECT, id="number-type"),
    pytest.param('{"type":"subscribe","id":"1","payload":null}', "Invalid subscribe payload", id="null-payload"),
    pytest.param('{"type":"subscribe","id":"1","payload":[1]}', "Invalid subscribe payload", id="array-payload"),
    pytest.param(
        '{"type":"subscribe","id":{"a":1},"payload":{"query":"query { __typename }"}}',
        "The subscribe message needs a string id",
        id="object-id",
    ),
    pytest.param('{"type":"subscribe","id":"1","payload":{"query":5}}', "Invalid subscribe payload", id="number-query"),
    pytest.param(
        '{"type":"subscribe","id":"1","payload":{"query":"query { __typename }","operationName":5}}',
        "Invalid subscribe payload",
        id="number-operation-name",
    ),
    pytest.param(
        '{"type":"subscribe","id":"1","payload":{"query":"query { __typename }","variables":[]}}',
        "Invalid subscribe payload",
        id="array-variables",
    ),
    pytest.param(
        '{"type":"subscribe","id":"1","payload":{"query":"query { __typename }","extensions":"x"}}',
        "Invalid subscribe payload",
        id="string-extensions",
    ),
    pytest.param('{"type":"complete"}', "The complete message needs a string id", id="complete-without-id"),
    pytest.param('{"type":"complete","id":1}', "The complete message needs a string id", id="complete-number-id"),
    pytest.param('{"type":"ping","payload":[]}', "Invalid ping payload", id="array-ping-payload"),
    pytest.param('{"type":"pong","payload":"x"}', "Invalid pong payload", id="string-pong-payload"),
    pytest.param('{"type":"ping","payload":{"n":' + "1" * 4301 + "}}", NOT_JSON, id="4301-digit-number"),
    pytest.param("[" * 100_000, NOT_JSON, id="deep-nesting"),
    pytest.param('{"type":"ping","payload":{"n":NaN}}', NOT_JSON, id="nan"),
    pytest.param(
        '{"type":"subscribe","id":Infinity,"payload":{"query":"query { __typename }"}}', NOT_JSON, id="infinity-id"
    ),
    pytest.param(
        '{"type":"subscribe","id":"\\ud800","payload":{"query":"query { __typename }"}}', NOT_JSON, id="lone-surrogate"
    ),
]


@pytest.mark.parametrize(("frame", "reason"), MALFORMED)
async def test_a_malformed_message_closes_with_4400_and_logs_nothing(app, caplog, frame, reason):
    with caplog.at_level(logging.ERROR):
        async with acknowledged(app) as ws:
            await ws.send_text(frame)
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive_json(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4400, reason)
    assert errors_logged(caplog) == []


def test_a_real_server_closes_on_malformed_messages_with_4400(tmp_path: Path) -> None:
    """Through uvicorn and websockets, which refuse a close reason over 123 bytes (a control
    frame's limit) where the in-process transport does not: Strawberry's "Unknown message
    type: ..." quotes the client's type, and is cut to fit."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    long_type = json.dumps({"type": "é" * 200})
    cut = f"Unknown message type: {'é' * 200}".encode()[:123].decode(errors="ignore")
    frames = [("[]", NOT_AN_OBJECT), ('{"id":' + "1" * 4301 + "}", NOT_JSON), (long_type, cut)]
    log_path = tmp_path / "server.log"
    with serving(f"sqlite+aiosqlite:///{tmp_path / 'ws.db'}", log_path) as (base, _):
        for frame, reason in frames:
            with connect(base.replace("http://", "ws://") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send(json.dumps({"type": "connection_init"}))
                assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
                ws.send(frame)
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=5)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4400, reason)
    assert "Traceback" not in log_path.read_text()


async def test_a_query_still_runs_over_the_socket(app, caplog):
    with caplog.at_level(logging.ERROR):
        async with acknowledged(app) as ws:
            await ws.send_json({"type": "ping", "payload": None})
            assert await ws.receive_json(timeout=5) == {"type": "pong"}
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": TYPENAME, "variables": None}})
            assert await ws.receive_json(timeout=5) == {
                "type": "next",
                "id": "1",
                "payload": {"data": {"__typename": "Query"}},
            }
            assert await ws.receive_json(timeout=5) == {"type": "complete", "id": "1"}
    assert errors_logged(caplog) == []


async def test_an_unknown_operation_name_is_an_error_message_as_over_http(app, client, caplog):
    over_http = await client.post("/graphql", json={"query": NAMED, "operationName": "B"})
    assert over_http.status_code == 400
    expected = [{"message": 'Unknown operation named "B".', "extensions": {"code": "VALIDATION_FAILED"}}]
    assert over_http.json() == {"data": None, "errors": expected}
    with caplog.at_level(logging.ERROR):
        async with acknowledged(app) as ws:
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": NAMED, "operationName": "B"}})
            assert await ws.receive_json(timeout=5) == {"type": "error", "id": "1", "payload": expected}
            # the connection stays, and the id is free again
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": NAMED, "operationName": "A"}})
            assert (await ws.receive_json(timeout=5))["payload"] == {"data": {"__typename": "Query"}}
    assert errors_logged(caplog) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("fragment F on Query { __typename }", "Can't get GraphQL operation type", id="no-operation"),
        pytest.param("", "No GraphQL query found in the request", id="empty-query"),
    ],
)
async def test_other_request_errors_are_error_messages_as_over_http(app, client, caplog, query, message):
    over_http = await client.post("/graphql", json={"query": query})
    expected = [{"message": message, "extensions": {"code": "VALIDATION_FAILED"}}]
    assert (over_http.status_code, over_http.json()) == (400, {"data": None, "errors": expected})
    with caplog.at_level(logging.ERROR):
        async with acknowledged(app) as ws:
            await ws.send_json({"type": "subscribe", "id": "1", "payload": {"query": query}})
            assert await ws.receive_json(timeout=5) == {"type": "error", "id": "1", "payload": expected}
    assert errors_logged(caplog) == []


async def test_the_legacy_graphql_ws_subprotocol_is_refused(app):
    """Strawberry accepts a handshake offering no protocol it speaks, without a subprotocol,
    and closes it with 4406."""
    async with connected(app, "graphql-ws") as ws:
        assert ws.subprotocol is None
        await ws.send_json({"type": "connection_init", "payload": {}})
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive_json(timeout=5)
    assert (closed.value.code, closed.value.reason) == (4406, "Subprotocol not acceptable")


@pytest.mark.settings(cors_origins=["https://app.example"])
async def test_a_browser_page_on_a_listed_origin_may_open_the_socket(app):
    """Strawberry refuses cross-origin WebSockets unless told the origins: listed ones were refused too."""

    @asynccontextmanager
    async def from_origin(origin: str) -> AsyncIterator[Any]:
        async with ASGIWebSocketTransport(app=app) as transport:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                url, protocols = "http://testserver/graphql", ["graphql-transport-ws"]
                async with aconnect_ws(url, http, subprotocols=protocols, headers={"Origin": origin}) as ws:
                    yield ws

    async with from_origin("https://app.example") as ws:
        await ws.send_json({"type": "connection_init"})
        assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
    with pytest.raises(ExceptionGroup) as refused:  # closed before it was accepted (a real server: 403)
        async with from_origin("https://evil.example"):
            pass
    [closed] = refused.value.exceptions
    assert isinstance(closed, WebSocketDisconnect) and closed.code == 1008
