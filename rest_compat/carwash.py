"""Seed 000 under /carwashes/1.x: masked phone, wash orders, the active order, annulment."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from core.i18n import translate
from core.net import bearer_token
from models import CarwashOrder, ServiceToken
from models.carwash import OrderStatus
from resolvers import carwash, service_tokens
from resolvers.errors import DomainError, ErrorCode, ValidationFailed
from resolvers.sessions import Viewer
from rest_compat.base import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    LegacyApi,
    database_of,
    json_body,
    json_response,
    retry_after_header,
    services_of,
    viewer_of,
)

PREFIX = "/carwashes/1.x"

# domain error -> HTTP status; every body is {"code": <ErrorCode name>, "message": ...}.
STATUSES: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SMS_QUOTA_EXCEEDED: 429,
    ErrorCode.ATTEMPTS_EXHAUSTED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
}
UNLISTED_STATUS = 422
REQUEST_ERRORS: dict[int, tuple[ErrorCode, str]] = {
    NOT_FOUND: (ErrorCode.NOT_FOUND, "Not found"),
    METHOD_NOT_ALLOWED: (ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed"),
    PAYLOAD_TOO_LARGE: (ErrorCode.PAYLOAD_TOO_LARGE, "Payload too large"),
    INTERNAL_ERROR: (ErrorCode.INTERNAL_ERROR, "Internal server error"),
}
STATUS_NAMES = {OrderStatus.PAID: "Paid", OrderStatus.ACTIVE: "Active"}
MISSING_OR_INVALID = "The field {name} is missing or invalid"


def _error(code: ErrorCode, message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"code": code.name, "message": message}, status, headers)


def render_domain_error(request: Request, exc: DomainError) -> Response:
    status = STATUSES.get(exc.code, UNLISTED_STATUS)
    message = translate(exc.message, API.locale(request), **exc.params)
    return _error(exc.code, message, status, retry_after_header(exc, time.time()))


def render_request_error(request: Request, status: int) -> Response:
    code, message = REQUEST_ERRORS.get(status, REQUEST_ERRORS[INTERNAL_ERROR])
    return _error(code, translate(message, API.locale(request)), status if status in REQUEST_ERRORS else 500)


# --- parsing ---------------------------------------------------------------


def _field(container: dict[str, Any], key: str, name: str, kinds: tuple[type, ...]) -> Any:
    """`container[key]` when present and of one of `kinds` (never a bool), else 400."""
    value = container.get(key)
    if value is None or isinstance(value, bool) or not isinstance(value, kinds):
        raise ValidationFailed(name, MISSING_OR_INVALID, name=name)
    return value


def _object(container: dict[str, Any], key: str) -> dict[str, Any]:
    return _field(container, key, key, (dict,))  # type: ignore[no-any-return]


async def _viewer(request: Request) -> Viewer:
    async with database_of(request).session(read_only=True) as session:
        return await viewer_of(request, session)


async def _service_caller(request: Request) -> ServiceToken:
    token = bearer_token(request.headers.get("authorization"))
    async with database_of(request).session() as session:
        return await service_tokens.authenticate_service(session=session, services=services_of(request), token=token)


def active_order_body(order: CarwashOrder) -> dict[str, Any]:
    """The active order in the seed's (datasync) shape, odd `carwashId` spelling included."""
    return {
        "plate": carwash.visible_plate(order),
        "car_title": order.car_title,
        "code": carwash.visible_code(order),
        "carwashId": str(order.carwash_id),
        "status": STATUS_NAMES[OrderStatus(order.status)],
    }


# --- handlers --------------------------------------------------------------


async def user_phone(request: Request) -> Response:
    """The user's verified phone, masked, and its `phone_id`.

    `Authorization: OAuth <user token>`; 422 PHONE_NOT_FOUND without a verified phone.
    """
    viewer = await _viewer(request)
    phone = carwash.masked_phone(viewer=viewer)
    return json_response({"masked_phone": phone.masked, "phone_id": str(phone.phone_id)})


async def create_order(request: Request) -> Response:
    """Buy a wash code: answers the `pay_token` to pay with.

    Replaces an unpaid order; 422 INVALID_PHONE_ID, INVALID_CAR_PLATE, CARWASH_NOT_FOUND, TOO_MANY_CODES.
    """
    viewer = await _viewer(request)
    body = await json_body(request)
    user = _object(body, "user")
    car = _object(body, "car")
    phone_id = _field(user, "phone_id", "user.phone_id", (str, int))
    title = _field(car, "title", "car.title", (str,))
    plate = _field(car, "plate", "car.plate", (str,))
    carwash_id = _field(body, "carwash_id", "carwash_id", (str, int))
    async with database_of(request).session() as session:
        created = await carwash.create_order(
            session=session,
            services=services_of(request),
            viewer=viewer,
            phone_id=phone_id,
            car_title=title,
            plate=plate,
            carwash_id=carwash_id,
        )
    return json_response({"pay_token": created.pay_token})


async def active_order(request: Request) -> Response:
    """The paid or active order (`status` "Paid" or "Active"); 204 when there is none."""
    viewer = await _viewer(request)
    async with database_of(request).session() as session:
        order = await carwash.active_order(session=session, user_id=viewer.user.id or 0)
    if order is None:
        return Response(status_code=204)
    return json_response(active_order_body(order))


async def order_used(request: Request) -> Response:
    """The carwash network annuls a wash code (service token as `Authorization: Bearer`).

    200 `{}` (again for a used order too); 422 INVALID_ORDER_STATUS when the order is not active.
    """
    caller = await _service_caller(request)
    body = await json_body(request)
    order_id = _field(body, "order_id", "order_id", (str, int))
    async with database_of(request).session() as session:
        await carwash.mark_used(session=session, services=services_of(request), caller=caller, order_id=order_id)
    return json_response({})


API = LegacyApi(
    name="seed 000 carwashes",
    prefixes=("/carwashes",),
    routes=[
        Mount(
            PREFIX,
            routes=[
                Route("/user/phone", user_phone, methods=["GET"]),
                Route("/order", create_order, methods=["POST"]),
                Route("/order/active", active_order, methods=["GET"]),
                Route("/order/used", order_used, methods=["POST"]),
            ],
        )
    ],
    default_locale="ru",
    render_domain_error=render_domain_error,
    render_request_error=render_request_error,
)
