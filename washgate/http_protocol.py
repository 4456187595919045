"""The HTTP connection: uvicorn's httptools protocol with a bounded request head and body time.

uvicorn keeps reading a request's line and headers for as long as they come: one
connection that sent 200 MB of header lines held 200 MB of memory, and a connection
that never finishes its head (or never sends a byte), or never finishes its body, was
held open for good. Here a head larger than MAX_HEAD_BYTES is answered 431 and the
connection closed; a connection whose head is not complete HEAD_TIMEOUT_SECONDS after
the connection or the request's first byte is closed, and so is one whose body has not
all arrived BODY_TIMEOUT_SECONDS after its head. Only the client's delays count: while
the server keeps a request waiting (queued behind an earlier one on the connection, or
its body not taken yet) its deadline starts again. Body sizes are bounded by the app
(`max_body_bytes`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # nginx allows 32 KiB of headers by default, h11 16 KiB
HEAD_TIMEOUT_SECONDS = 30.0
BODY_TIMEOUT_SECONDS = 60.0  # 1 MiB at 20 KB/s


class _HeadTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT_SECONDS
    body_timeout = BODY_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True  # inside a request line and headers, or before the first request
        self._reading_body = False  # after a head, before its message is complete
        self._head_bytes = 0  # of the chunks after the one in which the head began
        self._head_first_chunk = 0  # bytes of the chunk in which it began (its start among them)
        self._chunk_bytes = 0  # of the chunk being parsed
        self._heads_begun = 0
        self._heads_begun_before_chunk = 0
        self._head_refused = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        heads_begun = self._heads_begun_before_chunk = self._heads_begun
        self._chunk_bytes = len(data)
        super().data_received(data)
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # refused, or a WebSocket now
            self._disarm()
            return
        # timed only when a part is still incomplete after a chunk: most requests arrive whole
        if self._reading_body:  # the rest of the body is still to come
            self._arm(self.body_timeout)
        elif self._reading_head:
            self._arm(self.head_timeout)
            if heads_begun != self._heads_begun:  # a new head began inside this chunk: count from the next
                self._head_bytes = 0  # (the chunk may hold an earlier request's body, no reason to refuse)
                self._head_first_chunk = len(data)
                return
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._heads_begun += 1

    def on_headers_complete(self) -> None:
        # A complete head is measured exactly, when the chunks it came in (the one it began
        # in counted whole) could hold one over the limit.
        began_in_this_chunk = self._heads_begun != self._heads_begun_before_chunk
        arrived = self._chunk_bytes + (0 if began_in_this_chunk else self._head_first_chunk + self._head_bytes)
        if arrived > self.max_head_bytes and self._head_size() > self.max_head_bytes:
            self._head_refused = True
            raise _HeadTooLarge  # stops the parser: uvicorn answers it with send_400_response
        self._reading_head = False
        self._reading_body = True
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        """Close the connection in `seconds` unless the part being read is complete by then
        (a deadline already running is kept)."""
        if self._deadline is None:
            self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if not (self._reading_head or self._reading_body) or self.transport.is_closing():
            return
        if self._server_busy():  # the delay is the server's, not the client's: wait again
            self._arm(self.head_timeout if self._reading_head else self.body_timeout)
            return
        self.transport.close()

    def _server_busy(self) -> bool:
        """Whether the request being read waits for the server: it is queued behind an
        earlier one on this connection (pipelined), the earlier one is still being
        answered, or the server stopped reading (a body the app has not taken yet)."""
        answering = self.cycle is not None and not self.cycle.response_complete
        return bool(self.pipeline) or (self._reading_head and answering) or self.flow.read_paused

    def _head_size(self) -> int:
        """The request line and headers as sent, give or take their separators."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers) + 16

    def send_400_response(self, msg: str) -> None:
        if self._head_refused:  # the parser stopped at a head over the limit: answer that
            self._refuse_head()
            return
        super().send_400_response(msg)

    def _refuse_head(self) -> None:
        self.logger.warning("Request head larger than %d bytes refused.", self.max_head_bytes)
        message = b"Request header fields too large."
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(message)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + message
        )
        self.transport.close()
