"""Seed 002 at /v1/auth/phone: bind the passport phone, confirm by SMS code, unbind."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from core.clock import iso_offset
from resolvers import phone_binding
from resolvers.errors import DomainError, ErrorCode
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
    viewer_of,
)

PREFIX = "/v1/auth/phone"
OTHER_ACTIVE_REQUEST = "otherActiveRequest"

# domain error -> (HTTP status, the seed's code)
ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.VALIDATION_FAILED: (400, "invalidRequest"),
    ErrorCode.UNAUTHENTICATED: (401, "noRights"),
    ErrorCode.PHONE_CHANGED: (401, "phoneChanged"),
    ErrorCode.NO_BOUND_PHONE: (401, "noBoundPhone"),
    ErrorCode.NO_ACTIVE_REQUEST: (404, "noActiveRequest"),
    ErrorCode.INVALID_OTP: (422, "invalidCode"),
    ErrorCode.SMS_QUOTA_EXCEEDED: (423, "smsQuotaExceed"),
    ErrorCode.OTHER_ACTIVE_REQUEST: (429, OTHER_ACTIVE_REQUEST),
    ErrorCode.ATTEMPTS_EXHAUSTED: (429, OTHER_ACTIVE_REQUEST),
    ErrorCode.RATE_LIMITED: (429, OTHER_ACTIVE_REQUEST),
    ErrorCode.DELIVERY_FAILED: (502, "smsSendFailed"),
}
REQUEST_ERRORS = {
    NOT_FOUND: (404, "notFound"),
    METHOD_NOT_ALLOWED: (405, "methodNotAllowed"),
    PAYLOAD_TOO_LARGE: (413, "payloadTooLarge"),
    INTERNAL_ERROR: (500, "internalError"),
}


def render_domain_error(request: Request, exc: DomainError) -> Response:
    status, code = ERRORS.get(exc.code, (400, "invalidRequest"))
    if exc.params.get("pending") is False:  # the code expired: no request is active any more
        status, code = ERRORS[ErrorCode.NO_ACTIVE_REQUEST]
    body: dict[str, str | None] = {"code": code}
    if code == OTHER_ACTIVE_REQUEST:
        body["nextCodeAvailableAt"] = iso_offset(getattr(exc, "retry_at", None))
    return json_response(body, status, retry_after_header(exc, time.time()))


def render_request_error(request: Request, status: int) -> Response:
    http_status, code = REQUEST_ERRORS.get(status, (500, "internalError"))
    return json_response({"code": code}, http_status)


async def bind(request: Request) -> Response:
    await request.body()  # no body is needed, but one over the limit is refused (413) all the same
    async with database_of(request).session() as session:
        viewer = await viewer_of(request, session)
        started = await phone_binding.bind_phone(
            session=session,
            services=services_of(request),
            viewer=viewer,
            locale=API.locale(request),
            client_ip=ip_of(request),
        )
    body = {
        "isConfirmationRequired": started.confirmation_required,
        "nextCodeAvailableAt": iso_offset(started.next_code_available_at),
    }
    return json_response(body, 208 if started.already_sent else 200)


async def confirm(request: Request) -> Response:
    await request.body()  # read before the transaction starts; json_body reuses it
    async with database_of(request).session() as session:
        viewer = await viewer_of(request, session)
        body = await json_body(request)
        phone = await phone_binding.confirm_binding(
            session=session, services=services_of(request), viewer=viewer, code=body.get("code")
        )
    return json_response({"boundAt": iso_offset(phone.bound_at)})


async def unbind(request: Request) -> Response:
    await request.body()  # as in bind
    async with database_of(request).session() as session:
        viewer = await viewer_of(request, session)
        await phone_binding.unbind_phone(session=session, services=services_of(request), viewer=viewer)
    return json_response({})


API = LegacyApi(
    name="seed 002 phone binding",
    prefixes=(PREFIX,),
    routes=[
        Mount(
            PREFIX,
            routes=[
                Route("/bind", bind, methods=["POST"]),
                Route("/confirm", confirm, methods=["POST"]),
                Route("/unbind", unbind, methods=["POST"]),
            ],
        )
    ],
    default_locale="ru",
    render_domain_error=render_domain_error,
    render_request_error=render_request_error,
    lang_header=True,
)
