"""The application factory: one Starlette app serving GraphQL and the five legacy APIs."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router, WebSocketRoute

from core.db import Database
from core.delivery import Delivery, LogDelivery, WebhookDelivery
from core.security import Keys
from core.services import Services
from core.settings import Settings
from resolvers.errors import DomainError
from resolvers.server_secret import load_or_create_secret_key
from rest_compat import LEGACY_APIS, api_for_path
from schema import build_schema
from washgate import docs, graphiql
from washgate.cross_site import CrossSiteWrites
from washgate.events import make_event_bus
from washgate.graphql_app import WashgateGraphQL
from washgate.middleware import ShapedErrors, render_request_error, unexpected_error
from washgate.supervision import watching_supervisor

GC_THRESHOLDS = (20_000, 20, 20)


class ConfigurationError(RuntimeError):
    """The configuration cannot run (production without a key or a webhook, ...)."""


def make_delivery(settings: Settings) -> Delivery:
    if settings.delivery_webhook_url:
        return WebhookDelivery(
            settings.delivery_webhook_url,
            secret=settings.delivery_webhook_secret,
            timeout=settings.delivery_timeout_seconds,
        )
    return LogDelivery(reveal_codes=not settings.is_production)


class LazyGraphQL:
    """The GraphQL endpoint, built in the lifespan once the secret key is known."""

    def __init__(self) -> None:
        self.view: WashgateGraphQL | None = None

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if self.view is None:
            raise HTTPException(503)
        await self.view(scope, receive, send)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    db: Database | None = getattr(request.app.state, "db", None)
    if db is not None and await db.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    api = api_for_path(request.url.path)
    if api is None:
        return JSONResponse({"detail": exc.message, "code": exc.code.name}, status_code=400)
    return api.render_domain_error(request, exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = await render_request_error(request, exc.status_code)
    if exc.headers and response.status_code == exc.status_code:  # a 405's Allow, not on a 403
        response.headers.update(exc.headers)
    return response


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    graphql = LazyGraphQL()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.is_production and (problems := settings.problems_for_production()):
            raise ConfigurationError("; ".join(problems))
        db = Database.from_settings(settings)
        secret = settings.secret_key
        if not secret:
            async with db.session() as session:
                secret = await load_or_create_secret_key(session)
        services = Services(settings=settings, keys=Keys.derive(secret), delivery=make_delivery(settings))
        services.events = make_event_bus(settings, db)
        await services.events.start()
        app.state.db = db
        app.state.services = services
        schema = build_schema(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            introspection=settings.graphiql_enabled,
        )
        graphql.view = WashgateGraphQL(schema, db=db, services=services, graphiql_page=graphiql.page)
        # Keep the long-lived startup objects (schema, modules) out of later full collections,
        # and collect the young generation every 20 000 allocations instead of 700: a GraphQL
        # request allocates thousands of short-lived objects, and the default ran a collection
        # several times per request (GraphQL `me`: ~20 % of its CPU). Cycles still go, later.
        thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            async with watching_supervisor():
                yield
        finally:
            gc.set_threshold(*thresholds)  # the process may go on (tests, tools): leave it as found
            gc.unfreeze()
            graphql.view = None
            await services.events.stop()
            await services.delivery.aclose()
            await db.dispose()

    # The busiest paths first (Starlette tries routes in order; no two of these overlap),
    # and the longest legacy mount first: /v1/auth/phone (seed 002) must win over /v1 (seed 001).
    routes = [Route("/graphql", graphql, methods=["GET", "POST"]), WebSocketRoute("/graphql", graphql)]
    for api in sorted(LEGACY_APIS, key=lambda api: -max(len(prefix) for prefix in api.prefixes)):
        routes.extend(api.routes)
    routes += [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *docs.routes(),
        *graphiql.routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            *_cors(settings),
            Middleware(ShapedErrors),
            Middleware(CrossSiteWrites, allowed_origins=settings.cors_origins),
            Middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes),
        ],
        # an error outside ShapedErrors (in the CORS middleware): Starlette re-raises it after this answer
        exception_handlers={DomainError: domain_error, HTTPException: http_error, Exception: unexpected_error},
    )
    _no_slash_redirects(app.router)
    return app


# What a browser app on another origin may send and read (WASHGATE_CORS_ORIGINS lists the origins).
CORS_HEADERS = ["Authorization", "Content-Type", "Accept-Language", "Lang", "X-Application-Token"]


def _cors(settings: Settings) -> list[Middleware]:
    """Cross-origin browser calls (a frontend served elsewhere): off unless origins are listed.
    Tokens travel in headers, never cookies, so no credentials mode."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=CORS_HEADERS,
            expose_headers=["Retry-After"],
            max_age=600,
        )
    ]


def _no_slash_redirects(router: Router) -> None:
    """A path with a stray trailing slash is an unknown path (404 in its API's shape), not
    a bodiless 307 that legacy clients would not follow: off for every router, mounts too."""
    router.redirect_slashes = False
    for route in router.routes:
        if isinstance(route, Mount) and isinstance(route.app, Router):
            _no_slash_redirects(route.app)
