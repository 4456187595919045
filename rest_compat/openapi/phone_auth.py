"""OpenAPI declarations of seed 004 under /api/v2: register / login by phone + OTP, JWT access and refresh tokens.

The operations of its routes (`OPENAPI`) and its component schemas (`OPENAPI_SCHEMAS`, its
error shape among them), merged into /openapi.json by washgate/docs.py.
"""

from __future__ import annotations

from typing import Any

from rest_compat import openapi as oa
from rest_compat.phone_auth import PREFIX

ERROR_SCHEMA = "PhoneAuthError"
DATE = oa.described(oa.STRING, "A date: `2023-04-15`.", pattern=r"^\d{4}-\d\d-\d\d$")
DATETIME = oa.described(
    oa.STRING, "UTC with milliseconds: `2023-04-15T16:40:28.152Z`.", pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
)
FLAG = {"type": "integer", "enum": [0, 1]}
_CLIENT_HEAD: dict[str, oa.Schema] = {
    "clientId": oa.described(oa.INTEGER, "The account's id."),
    "name": oa.STRING_OR_NULL,
    "inn": oa.NULL,
    "email": oa.STRING_OR_NULL,
    "phone": oa.described(oa.STRING, "Digits without `+`: `79215431345`."),
    "birthday": oa.NULL,
}
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    ERROR_SCHEMA: oa.closed(
        {
            "code": oa.described(
                {"type": ["integer", "null"]},
                "40 invalid request or limit, 4 account not found, 5 wrong code or token, 6 failed delivery, "
                "41 account exists, null unexpected error.",
            ),
            "type": {"type": "string", "enum": ["api_client", "api_not_found", "api_authentication", "server"]},
            "message": oa.described(oa.STRING, "In the request's language (default English); never a code."),
            "timestamp": oa.described(DATETIME, "When the error happened."),
            "path": oa.described(oa.STRING, "The request's path."),
        },
        description="Every error of seed 004, whatever its status.",
    ),
    "PhoneAuthTokens": oa.closed(
        {
            "accessToken": oa.described(oa.STRING, "A JWT: `Authorization: Bearer <accessToken>`."),
            "refreshToken": oa.described(oa.STRING, "Opaque, single use: `GET /api/v2/auth/refresh`."),
        }
    ),
    "PhoneAuthRegisterCard": oa.closed(
        {
            "cardId": oa.INTEGER,
            "isLocked": FLAG,
            "dateBegin": oa.NULL,
            "dateEnd": oa.NULL,
            "cardTypeId": oa.INTEGER,
            "devNomer": oa.described(oa.STRING, "The card number (the phone's digits)."),
            "isDel": oa.NULL,
            "cmnCity": oa.NULL,
            "realBalance": oa.NULL,
            "airBalance": oa.NULL,
            "nomer": oa.described(oa.STRING, "The card number (the phone's digits)."),
            "note": oa.NULL,
            "tag": oa.NULL,
            "mainCardId": oa.NULL,
        },
        description="A loyalty card as `register` shows it.",
    ),
    "PhoneAuthLoginCard": oa.closed(
        {
            "cardId": oa.INTEGER,
            "balance": oa.INTEGER,
            "isLocked": FLAG,
            "dateBegin": DATE,
            "dateEnd": oa.NULL,
            "cardTypeId": oa.INTEGER,
            "devNomer": oa.STRING,
            "isDel": oa.NULL,
            "avto": oa.NULL,
            "monthLimit": oa.NULL,
            "discount": oa.NULL,
            "gosNomer": oa.NULL,
            "cmnCity": oa.NULL,
            "realBalance": oa.NULL,
            "airBalance": oa.NULL,
            "keyBalance": oa.NULL,
            "nomer": oa.STRING,
            "modelID": oa.NULL,
            "note": oa.NULL,
            "tag": oa.NULL,
            "dayLimit": oa.NULL,
            "mainCardId": oa.NULL,
        },
        description="A loyalty card as `login` shows it (more keys, dates rather than datetimes).",
    ),
    "PhoneAuthRegisterClient": oa.closed(
        {
            **_CLIENT_HEAD,
            "clientTypeId": oa.INTEGER,
            "note": oa.NULL,
            "isActivated": FLAG,
            "genderId": oa.NULL,
            "correctPhone": oa.described(oa.STRING, "E.164: `+79215431345`."),
            "refreshToken": oa.described(oa.STRING, "The same as `tokens.refreshToken`."),
            "isTokeValid": {"const": "1"},
            "activatedDate": {**DATETIME, "type": ["string", "null"]},
            "isLk": oa.NULL,
            "tag": oa.NULL,
            "cards": {"type": "array", "items": oa.ref("PhoneAuthRegisterCard")},
        },
        description="The account as `register` shows it.",
    ),
    "PhoneAuthLoginClient": oa.closed(
        {
            **_CLIENT_HEAD,
            "insDate": DATE,
            "updDate": DATE,
            "insUserId": oa.NULL,
            "updUserId": oa.NULL,
            "clientTypeId": oa.INTEGER,
            "note": oa.NULL,
            "avto": oa.NULL,
            "isActivated": FLAG,
            "discount": oa.NULL,
            "genderId": oa.NULL,
            "correctPhone": oa.described(oa.STRING, "E.164: `+79215431345`."),
            "refreshToken": oa.described(oa.STRING, "The same as `tokens.refreshToken`."),
            "tokenId": oa.NULL,
            "isTokeValid": {"const": "1"},
            "activatedDate": {**DATE, "type": ["string", "null"]},
            "isActiveLight": oa.NULL,
            "activatedDateLight": oa.NULL,
            "isLk": oa.NULL,
            "tag": oa.NULL,
            "cards": {"type": "array", "items": oa.ref("PhoneAuthLoginCard")},
        },
        description="The account as `login` shows it (more keys than `register`, dates rather than datetimes).",
    ),
}


def _doc_answer(path: str, method: str, data: oa.Schema) -> oa.Schema:
    """The success envelope: `data` with the request's path, its duration and method."""
    return oa.closed(
        {
            "data": data,
            "path": {"const": path},
            "duration": oa.described(oa.STRING, "Time spent: `201ms`.", pattern=r"^\d+ms$"),
            "method": {"const": method},
        }
    )


def _doc_error(description: str, path: str, code: int | None, type_: str, message: str, *, retry_after: bool = False):
    schema = oa.narrowed(ERROR_SCHEMA, code={"const": code}, type={"const": type_})
    return _doc_error_response(description, schema, path, code, type_, message, retry_after=retry_after)


def _doc_error_response(
    description: str,
    schema: oa.Schema,
    path: str,
    code: int | None,
    type_: str,
    message: str,
    *,
    retry_after: bool = False,
) -> dict[str, Any]:
    example = {"code": code, "type": type_, "message": message, "timestamp": "2023-04-17T20:00:34.855Z", "path": path}
    if retry_after:
        return oa.limited(description, schema, example=example)
    return oa.response(description, schema, example=example)


def _doc_common(path: str, *, invalid: str, message: str = "Phone number must be valid") -> dict[str, Any]:
    """The answers every seed 004 operation can give besides its own."""
    return {
        "400": _doc_error(f"Invalid request: {invalid}", path, 40, "api_client", message),
        "413": _doc_error("The body is over the size limit", path, 40, "api_client", "Payload too large"),
        "500": _doc_error("Unexpected server error", path, None, "server", "Internal server error"),
    }


def _doc_code_refusals(path: str) -> dict[str, Any]:
    """A code check's refusals (register and login)."""
    return {
        "422": _doc_error_response(
            "A wrong, used or expired code, or one whose attempts are spent (the right one included)",
            oa.narrowed(ERROR_SCHEMA, code={"const": 5}, type={"const": "api_authentication"}),
            path,
            5,
            "api_authentication",
            "Client +79219174645 invalid otp code",
        ),
        "429": _doc_error(
            "The phone is locked after too many wrong codes",
            path,
            40,
            "api_client",
            "Too many wrong codes for this phone, try again later",
            retry_after=True,
        ),
    }


_PHONE = oa.described(oa.STRING, "E.164 (`+79215431345`) or 11 digits (`79215431345`, `89215431345`).")
_OTP = {
    "description": "The code: `WASHGATE_OTP_LENGTH` (default 4) digits, as a string or a JSON number.",
    "oneOf": [oa.DIGITS, {"type": "integer", "minimum": 0}],
}
_LANGUAGE = [oa.accept_language("en")]
_TOKENS_EXAMPLE = {"accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln", "refreshToken": "k3Jx0Vb9aPq2"}
SEND_OTP, REGISTER, LOGIN, REFRESH = (
    f"{PREFIX}/auth/send/otp",
    f"{PREFIX}/auth/register",
    f"{PREFIX}/auth/login",
    f"{PREFIX}/auth/refresh",
)

OPENAPI: oa.Operations = {
    ("POST", SEND_OTP): {
        "operationId": "phoneAuthSendOtp",
        "summary": "Send a sign-in code by SMS",
        "description": "The code is never echoed. Limits (resend interval, daily SMS quota, per-address and hourly "
        "caps, a locked phone) answer 429 code 40 with Retry-After.",
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields({"phone": _PHONE}, required=("phone",)), example={"phone": "+79215431345"}
        ),
        "responses": {
            "201": oa.response(
                "The code was sent",
                _doc_answer(
                    SEND_OTP,
                    "POST",
                    oa.closed(
                        {"status": {"const": "sent_success"}, "target": oa.described(oa.STRING, "The phone in E.164.")}
                    ),
                ),
                example={
                    "data": {"status": "sent_success", "target": "+79276745356"},
                    "path": SEND_OTP,
                    "duration": "201ms",
                    "method": "POST",
                },
            ),
            **_doc_common(SEND_OTP, invalid="invalid JSON, a phone that is not valid or outside the allowed countries"),
            "429": _doc_error(
                "A limit refused the send",
                SEND_OTP,
                40,
                "api_client",
                "A new code can be requested later",
                retry_after=True,
            ),
            "500": _doc_error_response(
                "The SMS could not be sent (code 6, retry at once), or an unexpected error (code null)",
                oa.narrowed(ERROR_SCHEMA, code={"enum": [6, None]}, type={"const": "server"}),
                SEND_OTP,
                6,
                "server",
                "Failed to send otp target= +79276745356",
            ),
        },
    },
    ("POST", REGISTER): {
        "operationId": "phoneAuthRegister",
        "summary": "Create the account of a phone proven by its code",
        "description": "An account awaiting a seed 003 PIN is taken over. The answer has `register`'s own keys "
        "(fewer than `login`'s, datetimes rather than dates).",
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields(
                {
                    "phone": _PHONE,
                    "otp": _OTP,
                    "isTermsAccepted": oa.described({"const": True}, "Must be true (400 otherwise)."),
                    "isPromoTermsAccepted": oa.BOOLEAN,
                    "name": oa.described(
                        oa.STRING,
                        'Optional, printable, at most 200 characters; default "Новый пользователь".',
                        maxLength=200,
                    ),
                },
                required=("phone", "otp", "isTermsAccepted", "isPromoTermsAccepted"),
            ),
            example={"phone": "+79215431345", "otp": "1234", "isTermsAccepted": True, "isPromoTermsAccepted": False},
        ),
        "responses": {
            "201": oa.response(
                "The account was created and signed in",
                _doc_answer(
                    REGISTER,
                    "POST",
                    oa.closed(
                        {
                            "client": oa.ref("PhoneAuthRegisterClient"),
                            "tokens": oa.ref("PhoneAuthTokens"),
                            "type": {"const": "register-success"},
                        }
                    ),
                ),
                example={
                    "data": {
                        "client": {
                            "clientId": 490664,
                            "name": "Новый пользователь",
                            "inn": None,
                            "email": None,
                            "phone": "79215431345",
                            "birthday": None,
                            "clientTypeId": 1,
                            "note": None,
                            "isActivated": 1,
                            "genderId": None,
                            "correctPhone": "+79215431345",
                            "refreshToken": "k3Jx0Vb9aPq2",
                            "isTokeValid": "1",
                            "activatedDate": "2023-04-15T16:40:28.152Z",
                            "isLk": None,
                            "tag": None,
                            "cards": [],
                        },
                        "tokens": _TOKENS_EXAMPLE,
                        "type": "register-success",
                    },
                    "path": REGISTER,
                    "duration": "443ms",
                    "method": "POST",
                },
            ),
            **_doc_common(REGISTER, invalid="invalid JSON, phone, otp, terms not accepted, name"),
            "409": _doc_error("The phone already has an account", REGISTER, 41, "api_client", "Account already exists"),
            **_doc_code_refusals(REGISTER),
        },
    },
    ("POST", LOGIN): {
        "operationId": "phoneAuthLogin",
        "summary": "Sign in with the phone's code",
        "description": "With a right code and no account the answer is `register-required` and the code stays "
        "usable for `register`. The client has `login`'s own keys (more than `register`'s, dates).",
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields({"phone": _PHONE, "otp": _OTP}, required=("phone", "otp")),
            example={"phone": "+79215431345", "otp": "1234"},
        ),
        "responses": {
            "200": oa.response(
                "Signed in (`login-success`), or no account yet (`register-required`)",
                _doc_answer(
                    LOGIN,
                    "POST",
                    {
                        "oneOf": [
                            oa.closed(
                                {
                                    "client": oa.ref("PhoneAuthLoginClient"),
                                    "tokens": oa.ref("PhoneAuthTokens"),
                                    "type": {"const": "login-success"},
                                }
                            ),
                            oa.closed({"client": oa.NULL, "tokens": oa.NULL, "type": {"const": "register-required"}}),
                        ]
                    },
                ),
                example={
                    "data": {"client": None, "tokens": None, "type": "register-required"},
                    "path": LOGIN,
                    "duration": "0ms",
                    "method": "POST",
                },
            ),
            **_doc_common(LOGIN, invalid="invalid JSON, phone, otp"),
            **_doc_code_refusals(LOGIN),
        },
    },
    ("GET", REFRESH): {
        "operationId": "phoneAuthRefresh",
        "summary": "Rotate a refresh token: a new access token and the next refresh token",
        "description": "Only tokens issued without an app (this API, GraphQL login) refresh here. The used token "
        "dies; presenting it again ends the session. `refreshToken` as a query parameter or in a JSON body.",
        "parameters": [
            oa.parameter(
                "refreshToken", "query", "The refresh token (or send it in a JSON body).", example="k3Jx0Vb9aPq2"
            ),
            *_LANGUAGE,
        ],
        "requestBody": oa.request_body(
            oa.fields({"refreshToken": oa.STRING}, required=("refreshToken",)),
            required=False,
            description="Read only when the query has no `refreshToken`.",
        ),
        "responses": {
            "200": oa.response(
                "The new pair",
                _doc_answer(REFRESH, "GET", oa.ref("PhoneAuthTokens")),
                example={"data": _TOKENS_EXAMPLE, "path": REFRESH, "duration": "1ms", "method": "GET"},
            ),
            **_doc_common(
                REFRESH,
                invalid="no `refreshToken`, or a body that is not a JSON object",
                message="refreshToken must be a string",
            ),
            "401": _doc_error(
                "The refresh token is unknown, used, expired, issued for an app or its session ended",
                REFRESH,
                5,
                "api_authentication",
                "The refresh token is incorrect",
            ),
            "404": _doc_error("The account was deleted", REFRESH, 4, "api_not_found", "Account not found"),
        },
    },
}
