"""GraphiQL in the browser (placeholder: Strawberry's page until assets are served locally)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute
from strawberry.http.ides import get_graphql_ide_html


def page(request: Request) -> Response:
    return HTMLResponse(get_graphql_ide_html("graphiql"))


def routes() -> list[BaseRoute]:
    return []
