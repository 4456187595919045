"""Request-level errors in the shape of the API whose path was called."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rest_compat import api_for_path
from washgate.graphql_app import graphql_error_response
from washgate.logs import loggable_path

log = logging.getLogger("washgate")


async def render_request_error(request: Request, status: int) -> Response:
    """404, 405, 413 or 500 for `request.url.path`, shaped by the API that owns the path.

    An API that checks its credential first answers a bad one instead of a 404, 405 or 413.
    """
    path = request.url.path
    api = api_for_path(path)
    if api is not None:
        if api.refuse_credentials is not None and status != 500:
            try:
                refusal = await api.refuse_credentials(request)
            except Exception:  # the database is away: the request error still stands
                log.warning("credential check failed on %s", loggable_path(path), exc_info=True)
                refusal = None
            if refusal is not None:
                return refusal
        return api.render_request_error(request, status)
    message = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
        status, "Internal server error"
    )
    if path == "/graphql":
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}.get(status, "INTERNAL_ERROR")
        return graphql_error_response(message, code, status)
    return JSONResponse({"detail": message}, status_code=status)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """An unexpected exception: logged with its traceback, answered as the API's 500."""
    log.error("unhandled error on %s %s", request.method, loggable_path(request.url.path), exc_info=exc)
    return await render_request_error(request, 500)


class ShapedErrors:
    """Request-level errors in the shape of the API whose path was called.

    Starlette's body limit answers 413 in plain text: answered in the API's shape instead.
    An unexpected error answers the API's 500, and the connection stays open: Starlette's
    outermost middleware would re-raise it after its handler answered, and uvicorn then
    closes the connection, so a keep-alive client's next request on it would be lost. Only
    an error after the answer has started still reaches the server (half an answer can
    only be ended by closing the connection). A client that leaves before its body has
    arrived is no error of the server's: noted at INFO, without a traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = replaced = False

        async def shaped_send(message: Message) -> None:
            nonlocal started, replaced
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 413:
                    headers = dict(message.get("headers", []))
                    if headers.get(b"content-type", b"").startswith(b"text/plain"):
                        replaced = True
                        response = await render_request_error(Request(scope), 413)
                        await response(scope, receive, send)
                        return
            if replaced:
                return
            await send(message)

        try:
            await self.app(scope, receive, shaped_send)
        except ClientDisconnect:  # gone before its body arrived: no one to answer, nothing went wrong here
            log.info("client left before its request body ended: %s %s", scope["method"], loggable_path(scope["path"]))
        except Exception as exc:
            if started:
                raise
            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send)
