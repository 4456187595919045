"""What every legacy API module shares: JSON in and out, and its error renderers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.db import Database, DbSession
from core.net import bearer_token, client_ip, request_locale
from core.services import Services
from resolvers import sessions
from resolvers.errors import DomainError, ValidationFailed, unauthenticated
from resolvers.sessions import Viewer

# Request-level failures every API renders in its own shape.
NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, INTERNAL_ERROR = 404, 405, 413, 500


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return OrjsonResponse(content, status_code=status_code, headers=headers)


@dataclass(frozen=True)
class LegacyApi:
    """One legacy REST API: where it is mounted and how it renders failures."""

    name: str
    prefixes: tuple[str, ...]
    routes: list[BaseRoute]
    default_locale: str
    render_domain_error: Callable[[Request, DomainError], Response]
    render_request_error: Callable[[Request, int], Response]
    lang_header: bool = False
    # An API whose credential is checked before anything else: its refusal (or None when the
    # credential is good), answered instead of a 404, 405 or 413 on its paths.
    refuse_credentials: Callable[[Request], Awaitable[Response | None]] | None = None

    def locale(self, conn: HTTPConnection) -> str:
        return request_locale(conn, self.default_locale, lang_header=self.lang_header)


def request_path(conn: HTTPConnection) -> str:
    """`conn.url.path` without building the URL (its host parsing runs on every answer)."""
    return conn.scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")  # as Starlette's URL


def services_of(conn: HTTPConnection) -> Services:
    return conn.app.state.services  # type: ignore[no-any-return]


def database_of(conn: HTTPConnection) -> Database:
    return conn.app.state.db  # type: ignore[no-any-return]


def ip_of(conn: HTTPConnection) -> str:
    return client_ip(conn, services_of(conn).settings)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is a ValidationFailed on `body`."""
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise ValidationFailed("body", "Invalid JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("body", "Invalid JSON")
    return body


async def viewer_of(conn: HTTPConnection, session: DbSession) -> Viewer:
    """The user of `Authorization: OAuth <token>` (or Bearer); UNAUTHENTICATED otherwise."""
    token = bearer_token(conn.headers.get("authorization"))
    if token is None:
        raise unauthenticated()
    return await sessions.authenticate(session, services=services_of(conn), token=token)


def retry_after_header(exc: DomainError, now_ts: float) -> dict[str, str]:
    retry_at = getattr(exc, "retry_at", None)
    if retry_at is None:
        return {}
    return {"Retry-After": str(max(1, int(retry_at.timestamp() - now_ts + 0.999)))}


def without_head(route: Route) -> Route:
    """A GET that changes state (spends a code, rotates a token): Starlette would also run it
    for HEAD, whose answer has no body, so a link checker or proxy would use it up unseen (405)."""
    assert route.methods is not None
    route.methods.discard("HEAD")
    return route
