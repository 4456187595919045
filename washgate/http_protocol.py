"""The HTTP connection: uvicorn's httptools protocol with a bounded request head.

uvicorn keeps reading a request's line and headers for as long as they come: one
connection that sent 200 MB of header lines held 200 MB of memory, and a connection
that never finishes its head (or never sends a byte) was held open for good. Here a
head larger than MAX_HEAD_BYTES is answered 431 and the connection closed, and a
connection whose head is not complete HEAD_TIMEOUT_SECONDS after the connection or
the request's first byte is closed. Bodies are bounded by the app (`max_body_bytes`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # nginx allows 32 KiB of headers by default, h11 16 KiB
HEAD_TIMEOUT_SECONDS = 30.0


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True  # between requests, or inside a request line and headers
        self._head_bytes = 0
        self._heads_begun = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        heads_begun = self._heads_begun
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        if heads_begun != self._heads_begun:  # a new head began inside this chunk: count from the next
            self._head_bytes = 0
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self._refuse_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._heads_begun += 1
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self.transport.close()

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
