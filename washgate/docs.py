"""The REST layer's OpenAPI 3.1 document (/openapi.json) and its docs page (/docs)."""

from __future__ import annotations

import html
import inspect
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from rest_compat import LEGACY_APIS


def _walk(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Route]]:
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(_walk(list(route.routes), prefix + route.path))
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for api in LEGACY_APIS:
        for path, route in _walk(api.routes):
            doc = inspect.getdoc(route.endpoint) or route.name
            summary, _, description = doc.partition("\n")
            for method in sorted((route.methods or set()) - {"HEAD"}):
                paths.setdefault(path, {})[method.lower()] = {
                    "tags": [api.name],
                    "summary": summary,
                    "description": description.strip(),
                    "responses": {"default": {"description": "As the legacy API documents"}},
                }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "washgate legacy REST APIs",
            "version": "1.0",
            "description": "The five legacy APIs washgate reproduces; GraphQL is at /graphql.",
        },
        "paths": paths,
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def docs_page(request: Request) -> Response:
    rows = []
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(operation['tags'][0])}</td><td>{html.escape(operation['summary'])}</td></tr>"
            )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>washgate REST docs</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:4px 12px;border-bottom:1px solid #ddd}</style>"
        "</head><body><h1>washgate legacy REST APIs</h1>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. GraphQL: <a href='/graphql'>/graphql</a>.</p>"
        "<table><tr><th>method</th><th>path</th><th>API</th><th>what</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return HTMLResponse(body)


def routes() -> list[BaseRoute]:
    return [Route("/openapi.json", openapi_json, methods=["GET"]), Route("/docs", docs_page, methods=["GET"])]
