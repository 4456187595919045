"""Seed 003 at /auth/oauth and /auto_call: app tokens by e-mail + password or phone + PIN.

Every error is `{"errors": {"<key>": ["<message>"]}}`; messages follow Accept-Language
(English by default, the seed's texts being the English catalog).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.clock import iso_z
from core.i18n import translate
from core.phones import digits_of
from models import Driver, User
from resolvers import oauth_tokens
from resolvers.errors import DomainError, ErrorCode
from resolvers.sessions import TokenPair
from rest_compat.base import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    LegacyApi,
    database_of,
    ip_of,
    json_body,
    json_response,
    retry_after_header,
    services_of,
)

OAUTH_PREFIX = "/auth/oauth"
AUTO_CALL_PREFIX = "/auto_call"
WRONG_PIN = "The code is incorrect. Please check it"

# domain error -> (HTTP status, error key, message; None keeps the resolver's message)
ERRORS: dict[ErrorCode, tuple[int, str, str | None]] = {
    ErrorCode.INVALID_APP: (401, "invalid_app", "Bad app"),
    ErrorCode.INVALID_USER: (401, "invalid_user", "Bad user"),
    ErrorCode.INVALID_PIN: (401, "invalid_pin", WRONG_PIN),
    ErrorCode.INVALID_OTP: (401, "invalid_pin", WRONG_PIN),
    ErrorCode.ATTEMPTS_EXHAUSTED: (401, "invalid_pin", WRONG_PIN),
    ErrorCode.INVALID_TOKEN: (401, "invalid_token", "The token is incorrect"),
    ErrorCode.UNAUTHENTICATED: (401, "invalid_token", "The token is incorrect"),
    ErrorCode.INVALID_REFRESH_TOKEN: (401, "invalid_refresh_token", "The refresh token is incorrect"),
    ErrorCode.ACCOUNT_NOT_FOUND: (401, "invalid_refresh_token", "The refresh token is incorrect"),
    ErrorCode.NOT_FOUND: (404, "entity_not_found", "Not found"),
    ErrorCode.RATE_LIMITED: (429, "too_many_requests", None),
    ErrorCode.SMS_QUOTA_EXCEEDED: (429, "too_many_requests", None),
    ErrorCode.DELIVERY_FAILED: (502, "delivery_failed", None),
}
REQUEST_ERRORS: dict[int, tuple[str, str]] = {
    NOT_FOUND: ("entity_not_found", "Not found"),
    METHOD_NOT_ALLOWED: ("method_not_allowed", "Method not allowed"),
    PAYLOAD_TOO_LARGE: ("payload_too_large", "Payload too large"),
    INTERNAL_ERROR: ("internal_error", "Internal server error"),
}


def _errors(key: str, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": {key: [message]}}, status, headers)


def render_domain_error(request: Request, exc: DomainError) -> Response:
    locale = API.locale(request)
    if exc.code is ErrorCode.VALIDATION_FAILED or exc.code not in ERRORS:
        key = exc.field or exc.code.name.lower()
        return _errors(key, translate(exc.message, locale, **exc.params), 400)
    status, key, message = ERRORS[exc.code]
    text = translate(message, locale) if message else translate(exc.message, locale, **exc.params)
    return _errors(key, text, status, retry_after_header(exc, time.time()) if status == 429 else None)


def render_request_error(request: Request, status: int) -> Response:
    key, message = REQUEST_ERRORS.get(status, REQUEST_ERRORS[INTERNAL_ERROR])
    return _errors(key, translate(message, API.locale(request)), status if status in REQUEST_ERRORS else 500)


# --- models ------------------------------------------------------------------


def token_model(tokens: TokenPair, *, activation_needed: bool) -> dict[str, Any]:
    """The seed's Token model (CONTRACT §5, 003)."""
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "activation_needed": activation_needed,
    }


def user_model(user: User) -> dict[str, Any]:
    """The User model: the account as a driver/passenger app shows it."""
    return {
        "id": str(user.id),
        "name": user.name,
        "email": user.email,
        "phone": digits_of(user.phone) if user.phone else None,
        "has_password": user.password_hash is not None,
        "created_at": iso_z(user.created_at),
    }


def driver_model(driver: Driver) -> dict[str, Any]:
    """The Driver model: the account's driver profile (licence and car)."""
    return {
        "id": str(driver.id),
        "license_number": driver.license_number,
        "license_expires_on": driver.license_expires_on.isoformat() if driver.license_expires_on else None,
        "car_title": driver.car_title,
        "car_plate": driver.car_plate,
        "car_color": driver.car_color,
    }


def _phone_value(raw: Any) -> Any:
    """The seed's Phone is `79160000000`: accept it as a JSON number too."""
    return str(raw) if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else raw


# --- handlers ----------------------------------------------------------------


async def create_token(request: Request) -> Response:
    """Get a token: `app_id` + `email` + `password` (token, user, driver) or `app_id` + `phone` (a PIN by SMS)."""
    body = await json_body(request)
    async with database_of(request).session() as session:
        issued = await oauth_tokens.create_token(
            session=session,
            services=services_of(request),
            app_id=body.get("app_id"),
            email=body.get("email"),
            password=body.get("password"),
            phone=_phone_value(body.get("phone")),
            locale=API.locale(request),
            client_ip=ip_of(request),
        )
    data: dict[str, Any] = {"token": token_model(issued.tokens, activation_needed=issued.activation_needed)}
    if issued.user is not None:
        data["user"] = user_model(issued.user)
    if issued.driver is not None:
        data["driver"] = driver_model(issued.driver)
    return json_response(data)


async def activate_token(request: Request) -> Response:
    """Activate a phone token: `token` (its access token) + `pin` (number or string)."""
    body = await json_body(request)
    async with database_of(request).session() as session:
        activated = await oauth_tokens.activate_token(
            session=session, services=services_of(request), token=body.get("token"), pin=body.get("pin")
        )
    return json_response({"user": user_model(activated.user)})


async def refresh_token(request: Request) -> Response:
    """Rotate a refresh token: `app_id` + `app_secret` + `refresh_token`."""
    body = await json_body(request)
    async with database_of(request).session() as session:
        pair = await oauth_tokens.refresh_app_tokens(
            session=session,
            services=services_of(request),
            app_id=body.get("app_id"),
            app_secret=body.get("app_secret"),
            refresh_token=body.get("refresh_token"),
        )
    return json_response({"token": token_model(pair, activation_needed=False)})


async def auto_call(request: Request) -> Response:
    """A robot call dictating a fresh PIN for the phone's token awaiting activation."""
    await request.body()  # no body is needed, but one over the limit is refused (413) all the same
    async with database_of(request).session() as session:
        await oauth_tokens.request_pin_call(
            session=session,
            services=services_of(request),
            phone=request.path_params["phone"],
            locale=API.locale(request),
            client_ip=ip_of(request),
        )
    return json_response({})


API = LegacyApi(
    name="seed 003 oauth tokens",
    prefixes=(OAUTH_PREFIX, AUTO_CALL_PREFIX),
    # Plain routes, not Mounts: a Mount would answer its bare prefix with a slash redirect.
    routes=[
        Route(f"{OAUTH_PREFIX}/token", create_token, methods=["POST"]),
        Route(f"{OAUTH_PREFIX}/activate", activate_token, methods=["PUT"]),
        Route(f"{OAUTH_PREFIX}/refresh", refresh_token, methods=["POST"]),
        Route(f"{AUTO_CALL_PREFIX}/{{phone}}", auto_call, methods=["POST"]),
    ],
    default_locale="en",
    render_domain_error=render_domain_error,
    render_request_error=render_request_error,
)
