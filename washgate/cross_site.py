"""Browsers' cross-site writes to the legacy REST APIs are refused.

A web page may make its visitors' browsers POST to any address without asking first,
as long as the request looks like a form: `text/plain`, a form encoding, or no body at
all. The legacy APIs read JSON whatever the Content-Type says (legacy clients send what
they send), so any page could make its visitors request codes, robot calls and flash
calls to any phone, each from the visitor's own address (the per-address cap would
not bound it). Browsers mark such a request `Sec-Fetch-Site: cross-site` (or
`same-site` from a sibling subdomain), a header no page can set or remove; apps,
servers and curl do not send it. (`Origin` alone cannot tell: seed 002's clients send
their own `Origin` header, "the source of requests".) So a state-changing request to a
legacy API that a browser marks as coming from another site is served only when its
`Origin` is listed in WASHGATE_CORS_ORIGINS; any other is refused in the API's own shape.
GraphQL needs no such rule: it takes only `application/json`, which no page can send
to another origin without the CORS permission washgate does not give.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http.websocket_origin import normalize_allowed_origins, normalize_origin

from resolvers.errors import DomainError, ErrorCode
from rest_compat import api_for_path

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FROM_ANOTHER_SITE = frozenset({"cross-site", "same-site"})  # Sec-Fetch-Site; else same-origin or none


class CrossSiteRefused(DomainError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.FORBIDDEN, "Requests from another site's pages are not accepted")


class CrossSiteWrites:
    def __init__(self, app: ASGIApp, *, allowed_origins: list[str]) -> None:
        self.app = app
        self.any_origin = "*" in allowed_origins
        self.allowed = normalize_allowed_origins(allowed_origins)  # as browsers write them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"] != "/graphql"  # the busiest path: JSON only (see above)
            and not self.any_origin
        ):
            site, origin = _headers(scope)
            if site in FROM_ANOTHER_SITE and (origin is None or normalize_origin(origin) not in self.allowed):
                api = api_for_path(scope["path"])
                if api is not None:
                    response = api.render_domain_error(Request(scope), CrossSiteRefused())
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    """(Sec-Fetch-Site, Origin) of the request."""
    site = origin = None
    for key, value in scope["headers"]:
        if key == b"sec-fetch-site":
            site = value.decode("latin-1").strip().lower()
        elif key == b"origin":
            origin = value.decode("latin-1")
    return site, origin
