"""The REST layer's OpenAPI 3.1 document (/openapi.json) and its docs page (/docs).

Each legacy API has a declarations module (rest_compat/openapi/<api>.py: the operations of its
routes, `OPENAPI`, and its component schemas, `OPENAPI_SCHEMAS`, its error shape among them);
this module merges them, walking the
real routes so that a route without a declaration, or a declaration without a route, stops the
document from being built.
"""

from __future__ import annotations

import copy
import functools
import html
import importlib
import inspect
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from rest_compat import LEGACY_APIS
from rest_compat.base import LegacyApi
from rest_compat.openapi import SECURITY_SCHEMES, callup, carwash, oauth, phone_auth, phone_binding

# The declarations of each legacy API's routes (rest_compat/openapi/<api>.py).
API_MODULES: tuple[ModuleType, ...] = (carwash, callup, phone_binding, oauth, phone_auth)

DESCRIPTION = """\
The five legacy REST APIs washgate reproduces path for path and shape for shape (GraphQL is at
`/graphql`). Each API answers every error in its own shape (the `*Error` schemas), including an
unknown path (404) and a wrong method (405) under its prefix, a body over `WASHGATE_MAX_BODY_BYTES`
(413, 1 MiB by default) and an unexpected failure (500). Refusals by a limit carry `Retry-After`.
Messages follow `Accept-Language` (seed 002 also `Lang`), `ru` or `en`; without it seeds 000 and
002 speak Russian, 001, 003 and 004 English. Credentials: see the security schemes; a user's
access token serves seeds 000 and 002 alike, whichever API issued it."""


class UndeclaredRoutes(LookupError):
    """A route has no OpenAPI declaration, or a declaration names no route."""


def _walk(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, Route]]:
    found: list[tuple[str, Route]] = []
    for route in routes:
        if isinstance(route, Mount):
            found.extend(_walk(list(route.routes), prefix + route.path))
        elif isinstance(route, Route):
            found.append((prefix + route.path, route))
    return found


def route_operations(api: LegacyApi) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the API routes (HEAD, which GET implies, aside)."""
    return {(method, path) for path, route in _walk(api.routes) for method in (route.methods or set()) - {"HEAD"}}


def api_module_of(declarations: ModuleType) -> ModuleType:
    """rest_compat/openapi/<api>.py declares for rest_compat/<api>.py."""
    return importlib.import_module(declarations.__name__.replace("rest_compat.openapi.", "rest_compat."))


def module_of(api: LegacyApi, modules: Iterable[ModuleType] = API_MODULES) -> ModuleType:
    for module in modules:
        if api_module_of(module).API is api:
            return module
    raise UndeclaredRoutes(f"{api.name}: no module declares its OpenAPI operations")


def build_document(
    apis: Iterable[LegacyApi] = LEGACY_APIS, modules: Iterable[ModuleType] = API_MODULES
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `apis`, from their modules' declarations."""
    modules = tuple(modules)
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    tags: list[dict[str, str]] = []
    problems: list[str] = []
    for api in sorted(apis, key=lambda api: api.name):
        module = module_of(api, modules)
        declared: dict[tuple[str, str], dict[str, Any]] = module.OPENAPI
        routed = route_operations(api)
        problems += [
            f"{api.name}: {method} {path} has no declared operation" for method, path in routed - declared.keys()
        ]
        problems += [
            f"{api.name}: {method} {path} is declared but not routed" for method, path in declared.keys() - routed
        ]
        tags.append({"name": api.name, "description": inspect.getdoc(api_module_of(module)) or api.name})
        for name, schema in module.OPENAPI_SCHEMAS.items():
            if name in schemas:
                problems.append(f"{api.name}: component schema {name} is declared twice")
            schemas[name] = copy.deepcopy(schema)
        for method, path in sorted(declared.keys() & routed, key=lambda key: (key[1], key[0])):
            operation = copy.deepcopy(declared[method, path])
            operation["responses"] = dict(sorted(operation["responses"].items()))
            paths.setdefault(path, {})[method.lower()] = {"tags": [api.name], **operation}
    if problems:
        raise UndeclaredRoutes("; ".join(problems))
    return {
        "openapi": "3.1.0",
        "info": {"title": "washgate legacy REST APIs", "version": "1.0", "description": DESCRIPTION},
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }


@functools.cache
def _document() -> dict[str, Any]:
    return build_document()


def openapi_document() -> dict[str, Any]:
    """The document /openapi.json serves (built once per process; a copy)."""
    return copy.deepcopy(_document())


async def openapi_json(request: Request) -> Response:
    return JSONResponse(_document())


def _security(operation: dict[str, Any]) -> str:
    names = [name for requirement in operation.get("security", []) for name in requirement]
    return ", ".join(names) or "none"


async def docs_page(request: Request) -> Response:
    rows = []
    for path, operations in _document()["paths"].items():
        for method, operation in operations.items():
            statuses = " ".join(operation["responses"])
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(operation['tags'][0])}</td><td>{html.escape(operation['summary'])}</td>"
                f"<td>{html.escape(_security(operation))}</td><td>{html.escape(statuses)}</td></tr>"
            )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>washgate REST docs</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:4px 12px;border-bottom:1px solid #ddd}</style>"
        "</head><body><h1>washgate legacy REST APIs</h1>"
        "<p>Machine-readable, with every request and answer schema: <a href='/openapi.json'>/openapi.json</a>. "
        "GraphQL: <a href='/graphql'>/graphql</a>.</p>"
        "<table><tr><th>method</th><th>path</th><th>API</th><th>what</th><th>credentials</th><th>answers</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return HTMLResponse(body)


def routes() -> list[BaseRoute]:
    return [Route("/openapi.json", openapi_json, methods=["GET"]), Route("/docs", docs_page, methods=["GET"])]
