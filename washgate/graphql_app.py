"""The GraphQL endpoint: Strawberry's ASGI view with washgate's context and JSON errors."""

from __future__ import annotations

from types import NoneType
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import ExecutionResult, GraphQLError, OperationType, execute, get_operation_ast, parse
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.http import process_result
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, Message
from strawberry.utils.operation import get_operation_type

from core.db import Database
from core.net import client_ip, request_locale
from core.services import Services
from schema.context import Context


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def graphql_error_response(message: str, code: str, status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class TextFrameWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages go out as text frames (browser clients JSON.parse them)."""

    async def send_json(self, message: Any) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        # A close frame's reason holds 123 bytes; Strawberry's may quote the client (a type, an id).
        await super().close(code, reason.encode()[:123].decode(errors="ignore"))


_OBJECT_OR_NULL = (dict, NoneType)


def message_problem(message: object) -> str | None:
    """Why a graphql-transport-ws message is malformed (the reason of its 4400 close), or None.

    Strawberry's handler reads messages as the protocol describes them and fails on any
    other shape (a TypeError, an unhashable id) with a traceback and no close frame.
    `connection_init` and unknown types are left to it: it refuses those with 4400 itself.
    """
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "The message must be a JSON object with a string type"
    kind = message["type"]
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"The {kind} message needs a string id"
    if kind in ("ping", "pong") and not isinstance(message.get("payload"), _OBJECT_OR_NULL):
        return f"Invalid {kind} payload"
    if kind == "subscribe":
        payload = message.get("payload")
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and isinstance(payload.get("operationName"), (str, NoneType))
            and isinstance(payload.get("variables"), _OBJECT_OR_NULL)
            and isinstance(payload.get("extensions"), _OBJECT_OR_NULL)
        ):
            return "Invalid subscribe payload"
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, with each message's shape checked first.

    graphql-transport-ws lets `connection_init` carry `"payload": null` (no parameters);
    Strawberry closes such a connection with 4400, so read null as no parameters.
    """

    async def handle_message(self, message: Message) -> None:
        problem = message_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if message.get("payload", {}) is None:
            message = {"type": "connection_init"}
        await super().handle_connection_init(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        error = self.request_error(operation.query, operation.operation_name)
        if error is not None:
            await operation.send_initial_errors([error])
            return
        await super().run_operation(operation)

    def request_error(self, query: str, operation_name: str | None) -> GraphQLError | None:
        """The request-level error HTTP answers with 400 (no query, no operation of that name),
        or None. Strawberry raises these before execution, and over a WebSocket the error
        masking (schema/extensions.py) sees an unexpected exception: INTERNAL_ERROR and a
        traceback. Anything else wrong with the text (syntax, limits) is left to Strawberry.
        A text not yet validated is parsed here once more, within the same token limit.
        """
        if not query:
            message = "No GraphQL query found in the request"
        else:
            documents = self.schema.documents  # type: ignore[attr-defined]
            document = documents.get(query)
            if document is None:
                try:
                    document = parse(query, max_tokens=documents.max_tokens)
                except (GraphQLError, RecursionError):
                    return None
            try:
                get_operation_type(document, operation_name)
                return None
            except RuntimeError:
                message = CannotGetOperationTypeError(operation_name).as_http_error_reason()
        return GraphQLError(message, extensions={"code": "VALIDATION_FAILED"})


class WashgateGraphQL(GraphQL):
    """POST-only JSON GraphQL (no queries or mutations by GET, no forms, no batching)."""

    websocket_adapter_class = TextFrameWebSocketAdapter  # type: ignore[assignment]
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, schema: Any, *, db: Database, services: Services, graphiql_page: Any) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if services.settings.graphiql_enabled else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
            keep_alive=True,
            keep_alive_interval=15,
            max_subscriptions_per_connection=services.settings.graphql_max_subscriptions,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # CONTRACT §4: not the legacy graphql-ws
            # a browser page on a listed origin may open the subscription socket too
            allowed_origins=services.settings.cors_origins,
        )
        self.db = db
        self.services = services
        self.graphiql_page = graphiql_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run_known(request) or await self.run(request)
        except HTTPException as exc:
            code = {405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 404: "NOT_FOUND"}.get(
                exc.status_code, "VALIDATION_FAILED"
            )
            headers = {"Allow": "POST"} if exc.status_code == 405 else None
            response = graphql_error_response(exc.reason, code, exc.status_code, headers)
        await response(scope, receive, send)

    async def run_known(self, request: Request) -> Response | None:
        """A plain JSON POST of a query or mutation whose text this schema has already
        parsed, limited and validated: executed by graphql-core on Strawberry's schema and
        executor, with the same context, error masking and response as `run`. Skips the
        view's and Schema.execute's per-request machinery (~0.1 ms; README.md, Benchmark).
        None when anything differs (new text, GET, another content type, streaming, a
        subscription, unusual fields): `run` answers those.
        """
        if request.method != "POST" or _media_type(request.headers.get("content-type")) != "application/json":
            return None
        accept = request.headers.get("accept", "")
        if "text/event-stream" in accept or "multipart/mixed" in accept:
            return None
        data = self.parse_json(await request.body())
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if not (
            isinstance(query, str)
            and isinstance(variables, (dict, NoneType))
            and isinstance(operation_name, (str, NoneType))
            and isinstance(extensions, (dict, NoneType))
        ):
            return None
        schema = self.schema
        document = schema.documents.get(query)
        if document is None:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is OperationType.SUBSCRIPTION:
            return None
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        try:
            result = execute(
                schema._schema,
                document,
                variable_values=variables,
                operation_name=operation_name,
                context_value=context,
                is_awaitable=optimized_is_awaitable,
                operation_extensions=extensions,
                **execution_context_class_kwargs(schema.execution_context_class),
            )
            if optimized_is_awaitable(result):
                result = await result
        except Exception as exc:  # outside any resolver: an error in the answer, as Schema.execute gives it
            result = ExecutionResult(data=None, errors=[GraphQLError(str(exc), original_error=exc)])
        if result.errors:
            result.errors = schema.masking.masked(result.errors)
        return self.create_response(process_result(result), sub_response)

    async def render_graphql_ide(self, request: Request) -> Response:
        return self.graphiql_page(request)  # type: ignore[no-any-return]

    def parse_json(self, data: str | bytes) -> Any:
        """An HTTP body: one JSON object (batches and other JSON values are refused)."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if isinstance(value, list):
            raise HTTPException(400, "Batched operations are not supported")
        if not isinstance(value, dict):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    def decode_json(self, data: str | bytes) -> object:
        """A WebSocket message, read as HTTP bodies are: orjson refuses NaN and Infinity, numbers
        too large for a double, nesting past 1024 levels and lone surrogates (which could not
        be sent back) with its JSONDecodeError (a json.JSONDecodeError, which Strawberry closes
        with 4400), where the stdlib's json accepts some and raises ValueError or RecursionError
        on others."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        settings = self.services.settings
        return Context(
            request=request,
            response=response,
            db=self.db,
            services=self.services,
            locale=request_locale(request, "en"),
            client_ip=client_ip(request, settings),
            authorization=request.headers.get("authorization"),
            app_token=request.headers.get("x-application-token"),
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """Browsers cannot set headers on a WebSocket: the token comes in connectionParams."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is not None and not isinstance(authorization, str):
            raise ConnectionRejectionError()
        context.authorization = authorization
        try:
            await context.viewer()
        except Exception:  # a bad token, or no database: refuse the connection either way
            raise ConnectionRejectionError() from None
        return None
