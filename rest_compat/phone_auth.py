"""Seed 004 under /api/v2: register / login by phone + OTP, JWT access and refresh tokens."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from core.clock import iso_z, utcnow
from core.i18n import translate
from core.phones import digits_of
from models import Card, User
from resolvers import otp_auth, sessions
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
    request_path,
    retry_after_header,
    services_of,
    without_head,
)

PREFIX = "/api/v2"

# domain error -> (HTTP status, internal code, type)
ERRORS: dict[ErrorCode, tuple[int, int | None, str]] = {
    ErrorCode.VALIDATION_FAILED: (400, 40, "api_client"),
    ErrorCode.ACCOUNT_NOT_FOUND: (404, 4, "api_not_found"),
    ErrorCode.INVALID_OTP: (422, 5, "api_authentication"),
    ErrorCode.ATTEMPTS_EXHAUSTED: (422, 5, "api_authentication"),
    ErrorCode.INVALID_REFRESH_TOKEN: (401, 5, "api_authentication"),
    ErrorCode.UNAUTHENTICATED: (401, 5, "api_authentication"),
    ErrorCode.DELIVERY_FAILED: (500, 6, "server"),
    ErrorCode.ACCOUNT_EXISTS: (409, 41, "api_client"),
    ErrorCode.RATE_LIMITED: (429, 40, "api_client"),
    ErrorCode.SMS_QUOTA_EXCEEDED: (429, 40, "api_client"),
}
REQUEST_ERRORS = {
    NOT_FOUND: "Not found",
    METHOD_NOT_ALLOWED: "Method not allowed",
    PAYLOAD_TOO_LARGE: "Payload too large",
}


def _error(
    request: Request, status: int, code: int | None, type_: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    body = {
        "code": code,
        "type": type_,
        "message": message,
        "timestamp": iso_z(utcnow()),
        "path": request_path(request),
    }
    return json_response(body, status, headers)


def render_domain_error(request: Request, exc: DomainError) -> Response:
    status, code, type_ = ERRORS.get(exc.code, (400, 40, "api_client"))
    locale = API.locale(request)
    phone = exc.params.get("phone", "")
    if exc.code in (ErrorCode.INVALID_OTP, ErrorCode.ATTEMPTS_EXHAUSTED):
        message = translate("Client {phone} invalid otp code", locale, phone=phone)
    elif exc.code == ErrorCode.DELIVERY_FAILED:
        message = translate("Failed to send otp target= {phone}", locale, phone=phone)
    elif exc.code == ErrorCode.ACCOUNT_NOT_FOUND and phone:
        message = translate("Account phone= {phone}  is not found", locale, phone=phone)
    else:
        message = translate(exc.message, locale, **exc.params)
    # Retry-After goes with a limit's refusal (429), not with spent attempts' wrong-code answer
    return _error(
        request, status, code, type_, message, retry_after_header(exc, time.time()) if status == 429 else None
    )


def render_request_error(request: Request, status: int) -> Response:
    if status == INTERNAL_ERROR:
        return _error(request, 500, None, "server", translate("Internal server error", API.locale(request)))
    message = translate(REQUEST_ERRORS.get(status, "Not found"), API.locale(request))
    return _error(request, status, 40, "api_client", message)


def _envelope(request: Request, data: Any, status: int = 200) -> Response:
    started = getattr(request.state, "started", None) or time.perf_counter()
    duration = int((time.perf_counter() - started) * 1000)
    return json_response(
        {"data": data, "path": request_path(request), "duration": f"{duration}ms", "method": request.method}, status
    )


def _date(value: Any) -> str | None:
    return value.date().isoformat() if value is not None else None


def register_client(user: User, cards: list[Card], refresh_token: str) -> dict[str, Any]:
    phone = user.phone or ""
    return {
        "clientId": user.id,
        "name": user.name,
        "inn": None,
        "email": user.email,
        "phone": digits_of(phone),
        "birthday": None,
        "clientTypeId": 1,
        "note": None,
        "isActivated": 1 if user.is_active else 0,
        "genderId": None,
        "correctPhone": phone,
        "refreshToken": refresh_token,
        "isTokeValid": "1",
        "activatedDate": iso_z(user.activated_at),
        "isLk": None,
        "tag": None,
        "cards": [
            {
                "cardId": card.id,
                "isLocked": 1 if card.is_locked else 0,
                "dateBegin": None,
                "dateEnd": None,
                "cardTypeId": card.card_type_id,
                "devNomer": card.number,
                "isDel": None,
                "cmnCity": None,
                "realBalance": None,
                "airBalance": None,
                "nomer": card.number,
                "note": None,
                "tag": None,
                "mainCardId": None,
            }
            for card in cards
        ],
    }


def login_client(user: User, cards: list[Card], refresh_token: str) -> dict[str, Any]:
    phone = user.phone or ""
    return {
        "clientId": user.id,
        "name": user.name,
        "inn": None,
        "email": user.email,
        "phone": digits_of(phone),
        "birthday": None,
        "insDate": _date(user.created_at),
        "updDate": _date(user.updated_at),
        "insUserId": None,
        "updUserId": None,
        "clientTypeId": 1,
        "note": None,
        "avto": None,
        "isActivated": 1 if user.is_active else 0,
        "discount": None,
        "genderId": None,
        "correctPhone": phone,
        "refreshToken": refresh_token,
        "tokenId": None,
        "isTokeValid": "1",
        "activatedDate": _date(user.activated_at),
        "isActiveLight": None,
        "activatedDateLight": None,
        "isLk": None,
        "tag": None,
        "cards": [
            {
                "cardId": card.id,
                "balance": card.balance,
                "isLocked": 1 if card.is_locked else 0,
                "dateBegin": _date(card.created_at),
                "dateEnd": None,
                "cardTypeId": card.card_type_id,
                "devNomer": card.number,
                "isDel": None,
                "avto": None,
                "monthLimit": None,
                "discount": None,
                "gosNomer": None,
                "cmnCity": None,
                "realBalance": None,
                "airBalance": None,
                "keyBalance": None,
                "nomer": card.number,
                "modelID": None,
                "note": None,
                "tag": None,
                "dayLimit": None,
                "mainCardId": None,
            }
            for card in cards
        ],
    }


def _tokens(pair: sessions.TokenPair) -> dict[str, str]:
    return {"accessToken": pair.access_token, "refreshToken": pair.refresh_token}


async def send_otp(request: Request) -> Response:
    request.state.started = time.perf_counter()
    body = await json_body(request)
    async with database_of(request).session() as session:
        phone, _ = await otp_auth.send_otp(
            session=session,
            services=services_of(request),
            phone=body.get("phone"),
            locale=API.locale(request),
            client_ip=ip_of(request),
        )
    return _envelope(request, {"status": "sent_success", "target": phone}, 201)


async def register(request: Request) -> Response:
    request.state.started = time.perf_counter()
    body = await json_body(request)
    async with database_of(request).session() as session:
        result = await otp_auth.register(
            session=session,
            services=services_of(request),
            phone=body.get("phone"),
            otp=body.get("otp"),
            terms_accepted=body.get("isTermsAccepted"),
            promo_terms_accepted=body.get("isPromoTermsAccepted"),
            name=body.get("name"),
        )
    data = {
        "client": register_client(result.user, result.cards, result.tokens.refresh_token),
        "tokens": _tokens(result.tokens),
        "type": "register-success",
    }
    return _envelope(request, data, 201)


async def login(request: Request) -> Response:
    request.state.started = time.perf_counter()
    body = await json_body(request)
    async with database_of(request).session() as session:
        result = await otp_auth.login(
            session=session, services=services_of(request), phone=body.get("phone"), otp=body.get("otp")
        )
        if isinstance(result, otp_auth.NeedsRegistration):
            return _envelope(request, {"client": None, "tokens": None, "type": "register-required"})
    data = {
        "client": login_client(result.user, result.cards, result.tokens.refresh_token),
        "tokens": _tokens(result.tokens),
        "type": "login-success",
    }
    return _envelope(request, data)


async def refresh(request: Request) -> Response:
    request.state.started = time.perf_counter()
    token: Any = request.query_params.get("refreshToken")
    if token is None and (await request.body()).strip():
        token = (await json_body(request)).get("refreshToken")
    if not isinstance(token, str) or not token:
        raise ValidationFailed("refreshToken", "refreshToken must be a string")
    async with database_of(request).session() as session:
        pair, _ = await sessions.rotate_tokens(session, services=services_of(request), refresh_token=token, app_id=None)
    return _envelope(request, {"accessToken": pair.access_token, "refreshToken": pair.refresh_token})


API = LegacyApi(
    name="seed 004 phone auth",
    prefixes=(PREFIX,),
    routes=[
        Mount(
            PREFIX,
            routes=[
                Route("/auth/send/otp", send_otp, methods=["POST"]),
                Route("/auth/register", register, methods=["POST"]),
                Route("/auth/login", login, methods=["POST"]),
                without_head(Route("/auth/refresh", refresh, methods=["GET"])),  # rotates the token
            ],
        )
    ],
    default_locale="en",
    render_domain_error=render_domain_error,
    render_request_error=render_request_error,
)
