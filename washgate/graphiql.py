"""GraphiQL in the browser, every asset served by washgate itself (no CDN, works offline).

`page` answers `GET /graphql` from a browser (the GraphQL view calls it only while GraphiQL is
enabled); `routes` serves the pinned GraphiQL, React and explorer-plugin builds under
`/graphiql-static`, which answers 404 while GraphiQL is disabled. Where the files come from:
`washgate/static/graphiql/README.md`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

STATIC_PATH = "/graphiql-static"
STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
TEMPLATE = Path(__file__).parent / "templates" / "graphiql.html"
ENDPOINT = "/graphql"

# Everything the page loads comes from this server; the JSON config is a data block, not a script.
# Styles stay 'unsafe-inline': GraphiQL and React set style attributes and inject <style> tags.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

TOKEN_HEADER_EXAMPLE = {"Authorization": "Bearer <tokens.accessToken from Login>"}


@dataclass(frozen=True)
class ExampleTab:
    """One GraphiQL tab preloaded on a first visit (GraphiQL keeps the user's tabs afterwards)."""

    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def as_graphiql(self) -> dict[str, str]:
        tab = {"query": self.query.strip() + "\n"}
        if self.variables:
            tab["variables"] = json.dumps(self.variables, indent=2, ensure_ascii=False)
        if self.headers:
            tab["headers"] = json.dumps(self.headers, indent=2, ensure_ascii=False)
        return tab


SIGN_IN = ExampleTab(
    query="""
# Welcome to washgate's GraphiQL.
# Sign in with a phone in three steps. This tab holds
# several operations: press the run button and pick one,
# or put the cursor in one and press Ctrl-Enter.
#
# 1. Run SendOtp: it sends a code to `phone` (Variables
#    below). In development with no delivery webhook,
#    the server log shows the code:
#      delivery type=otp.sms phone=+7... code=1234
#    A phone in WASHGATE_TEST_PHONES takes its fixed
#    code instead.
# 2. Put the code in `otp` and run Login. A phone with
#    no account answers RegistrationRequired: run
#    Register with the same phone and code.
# 3. In Headers below, replace the placeholder with
#    tokens.accessToken from the answer:
#      {"Authorization": "Bearer <accessToken>"}
#    and run Me (with no Authorization, Me is null).
#
# `washgate demo` creates a user with the phone
# +79990000000 to try this on. Expected failures are
# data: every error type implements
# Error { code message }.

mutation SendOtp($phone: String!) {
  sendOtp(input: {phone: $phone, channel: SMS}) {
    __typename
    ... on OtpSent { phone codeLength nextCodeAvailableAt }
    ... on RateLimitedError { retryAt }
    ... on ValidationError { field }
    ... on Error { code message }
  }
}

mutation Login($phone: String!, $otp: String!) {
  login(input: {phone: $phone, otp: $otp}) {
    __typename
    ... on AuthSuccess {
      user { id name }
      tokens { accessToken refreshToken expiresIn }
    }
    ... on RegistrationRequired { phone }
    ... on InvalidCodeError { attemptsLeft }
    ... on RateLimitedError { retryAt }
    ... on Error { code message }
  }
}

mutation Register($phone: String!, $otp: String!, $name: String) {
  register(input: {
    phone: $phone, otp: $otp, termsAccepted: true, name: $name
  }) {
    __typename
    ... on AuthSuccess {
      user { id name }
      tokens { accessToken refreshToken expiresIn }
    }
    ... on InvalidCodeError { attemptsLeft }
    ... on RateLimitedError { retryAt }
    ... on Error { code message }
  }
}

query Me {
  me {
    id
    name
    email
    phone { number verifiedAt }
    phones { id number masked }
    cards { number balance }
  }
}
""",
    variables={"phone": "+79990000000", "otp": "", "name": "Demo"},
    headers=TOKEN_HEADER_EXAMPLE,
)

TOKENS = ExampleTab(
    query="""
# Access tokens live WASHGATE_ACCESS_TOKEN_TTL_SECONDS
# (15 minutes by default). Trade the refresh token from
# Login for a new pair: each refresh token works once,
# and using one twice ends its whole family of sessions.
# Logout needs the access token in Headers below.

mutation RefreshTokens($refreshToken: String!) {
  refreshTokens(input: {refreshToken: $refreshToken}) {
    __typename
    ... on TokenPair { accessToken refreshToken expiresIn }
    ... on Error { code message }
  }
}

mutation Logout {
  logout(input: {}) {
    __typename
    ... on LoggedOut { revoked }
    ... on Error { code message }
  }
}
""",
    variables={"refreshToken": "<tokens.refreshToken from Login>"},
    headers=TOKEN_HEADER_EXAMPLE,
)

CARWASH = ExampleTab(
    query="""
# A carwash order: pick a carwash, order it for one of
# your phones (Me lists their ids) and follow the order
# live with the subscription. Subscriptions run over a
# WebSocket on this same /graphql path
# (graphql-transport-ws); GraphiQL sends the Headers
# below as its connectionParams, so the same
#   {"Authorization": "Bearer <accessToken>"}
# signs it in.

query Carwashes {
  carwashes { id name }
}

mutation CreateCarwashOrder(
  $phoneId: ID!, $carwashId: ID!, $title: String!, $plate: String!
) {
  createCarwashOrder(input: {
    phoneId: $phoneId, carwashId: $carwashId,
    car: {title: $title, plate: $plate}
  }) {
    __typename
    ... on CarwashOrderCreated {
      order { id status carTitle plate carwash { id name } }
      payToken
    }
    ... on Error { code message }
  }
}

subscription CarwashOrderUpdated {
  carwashOrderUpdated {
    id status carTitle plate code paidAt activatedAt usedAt
  }
}
""",
    variables={"phoneId": "1", "carwashId": "1", "title": "Skoda Octavia", "plate": "А123ВС77"},
    headers=TOKEN_HEADER_EXAMPLE,
)

EXAMPLE_TABS: tuple[ExampleTab, ...] = (SIGN_IN, TOKENS, CARWASH)


def page_config() -> dict[str, Any]:
    """What washgate-graphiql.js reads: the endpoint, the example tabs, editor options."""
    return {
        "endpoint": ENDPOINT,
        "tabs": [tab.as_graphiql() for tab in EXAMPLE_TABS],
        "editorTools": "variables",
        "persistHeaders": True,
    }


def _json_for_html(value: Any) -> str:
    """JSON safe inside a <script type="application/json"> element."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@functools.cache
def page_html() -> str:
    return TEMPLATE.read_text(encoding="utf-8").replace("{{config}}", _json_for_html(page_config()))


def page(request: Request) -> Response:
    """The GraphiQL page; it loads its scripts and styles from /graphiql-static only."""
    return HTMLResponse(page_html(), headers=PAGE_HEADERS)


class WhileGraphiQLEnabled:
    """Passes requests to `app` only while GraphiQL is enabled; 404 otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        if services is None or not services.settings.graphiql_enabled:
            raise HTTPException(404)
        await self.app(scope, receive, send)


def routes() -> list[BaseRoute]:
    static = StaticFiles(directory=STATIC_DIR)
    return [Mount(STATIC_PATH, app=WhileGraphiQLEnabled(static), name="graphiql-static")]
