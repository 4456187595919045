"""Seed 001 (CallUp) under /v1: flash-call orders and their code checks for client apps.

Every answer is the envelope `{"data": ..., "errors": null}` or
`{"data": null, "errors": [{"message": ...}]}`; the app token (`X-Application-Token`)
is checked before anything else, so 403 `access denied` wins over every other error
(an unknown path, a wrong method and an oversized body included).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from core.i18n import translate
from models import ClientApp
from resolvers import callup
from resolvers.errors import DomainError, ErrorCode, ValidationFailed
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
    without_head,
)

PREFIX = "/v1"
APP_TOKEN_HEADER = "x-application-token"
PHONE_DIGITS = 11

# domain error -> HTTP status; anything not listed is invalid input (400).
STATUSES: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.UNAUTHENTICATED: 403,  # the app token: `access denied`
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.INVALID_OTP: 422,
    ErrorCode.ATTEMPTS_EXHAUSTED: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SMS_QUOTA_EXCEEDED: 429,
    ErrorCode.DELIVERY_FAILED: 502,
}
REQUEST_ERRORS = {
    NOT_FOUND: "not found",
    METHOD_NOT_ALLOWED: "method not allowed",
    PAYLOAD_TOO_LARGE: "payload too large",
    INTERNAL_ERROR: "internal error",
}


def _failure(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"data": None, "errors": [{"message": message}]}, status, headers)


def _success(data: Any) -> Response:
    return json_response({"data": data, "errors": None})


def render_domain_error(request: Request, exc: DomainError) -> Response:
    status = STATUSES.get(exc.code, 400)
    message = translate(exc.message, API.locale(request), **exc.params)
    return _failure(status, message, retry_after_header(exc, time.time()) if status == 429 else None)


def render_request_error(request: Request, status: int) -> Response:
    message = REQUEST_ERRORS.get(status, REQUEST_ERRORS[INTERNAL_ERROR])
    return _failure(status, translate(message, API.locale(request)))


async def refuse_credentials(request: Request) -> Response | None:
    """403 `access denied` for a missing, unknown or blocked app token, else None."""
    try:
        async with database_of(request).session() as session:
            await _app(request, session)
    except DomainError as exc:
        return render_domain_error(request, exc)
    return None


async def _app(request: Request, session: Any) -> ClientApp:
    return await callup.app_for_token(
        session, services=services_of(request), app_token=request.headers.get(APP_TOKEN_HEADER)
    )


def _phone(raw: object) -> str:
    """Seed 001 sends the phone as a string of 11 digits (`79161234567`)."""
    if not isinstance(raw, str) or len(raw) != PHONE_DIGITS or not raw.isascii() or not raw.isdigit():
        raise ValidationFailed("phone", "Phone must be a string of {count} digits", count=PHONE_DIGITS)
    return raw


def _wants_code(request: Request) -> bool:
    fields = ",".join(request.query_params.getlist("fields"))
    return "code.value" in (item.strip() for item in fields.split(","))


async def create_order(request: Request) -> Response:
    """Order a flash call (schemes 1-3: standard, `?fields=code.value`, caller-chosen `code`)

    Body `{"phone": "79161234567", "code": "0345"?}`; the caller number is the prefix + the code.
    """
    # The token first (403 wins), in a session of its own: no transaction stays
    # open while the body arrives.
    async with database_of(request).session() as session:
        app = await _app(request, session)
    body = await json_body(request)
    async with database_of(request).session() as session:
        verification = await callup.create_verification(
            session=session,
            services=services_of(request),
            app=app,
            phone=_phone(body.get("phone")),
            code=body.get("code"),
            reveal=_wants_code(request),
            locale=API.locale(request),
            client_ip=ip_of(request),
        )
    code: dict[str, Any] = {"len": verification.code_length}
    if verification.code is not None:
        code["value"] = verification.code
    return _success(
        {
            "id": verification.id,
            "cid": {"prefix": verification.caller_prefix, "mask": verification.caller_mask},
            "code": code,
        }
    )


async def check_code(request: Request) -> Response:
    """Check the code of an order: `{"data": {"success": true}, "errors": null}` or an error"""
    async with database_of(request).session() as session:
        app = await _app(request, session)
        await callup.check_verification(
            session=session,
            services=services_of(request),
            app=app,
            order_id=request.path_params["order_id"],
            code=request.path_params["code"],
        )
    return _success({"success": True})


API = LegacyApi(
    name="seed 001 CallUp",
    prefixes=(PREFIX,),
    routes=[
        Mount(
            PREFIX,
            routes=[
                Route("/orders", create_order, methods=["POST"]),
                without_head(Route("/auth/{order_id}/{code}", check_code, methods=["GET"])),  # spends the code
            ],
        )
    ],
    default_locale="en",
    render_domain_error=render_domain_error,
    render_request_error=render_request_error,
    refuse_credentials=refuse_credentials,
)
