"""OpenAPI declarations of seed 003 at /auth/oauth and /auto_call: app tokens by e-mail + password or phone + PIN.

The operations of its routes (`OPENAPI`) and its component schemas (`OPENAPI_SCHEMAS`, its
error shape among them), merged into /openapi.json by washgate/docs.py.
"""

from __future__ import annotations

from typing import Any

from rest_compat import openapi as oa
from rest_compat.oauth import AUTO_CALL_PREFIX, OAUTH_PREFIX, WRONG_PIN

ERROR_SCHEMA = "OAuthError"
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    ERROR_SCHEMA: oa.closed(
        {
            "errors": {
                "type": "object",
                "description": "One key (the error, or for invalid input the request field's snake_case name, "
                "`body` when the body is not a JSON object) with one message in the request's language.",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": {"type": "array", "items": oa.STRING, "minItems": 1, "maxItems": 1},
            }
        },
        description="Every error of seed 003, whatever its status.",
    ),
    "OAuthToken": oa.closed(
        {
            "access_token": oa.described(oa.STRING, "A JWT; send it as `Authorization: Bearer` (or `OAuth`)."),
            "refresh_token": oa.described(oa.STRING, "Opaque, single use; refresh with the app's id and secret."),
            "token_type": {"const": "Bearer"},
            "expires_in": oa.described(oa.INTEGER, "Seconds the access token lives."),
            "activation_needed": oa.described(
                oa.BOOLEAN, "true for a phone token until `PUT /auth/oauth/activate` with its PIN."
            ),
        },
        description="The seed's Token model.",
    ),
    "OAuthUser": oa.closed(
        {
            "id": oa.described(oa.STRING, "A decimal id."),
            "name": oa.STRING_OR_NULL,
            "email": oa.STRING_OR_NULL,
            "phone": oa.described(oa.STRING_OR_NULL, "Digits without `+`: `79160000000`."),
            "has_password": oa.BOOLEAN,
            "created_at": oa.described(oa.STRING, "UTC with milliseconds: `2023-04-15T16:40:28.152Z`."),
        },
        description="The seed's User model.",
    ),
    "OAuthDriver": oa.closed(
        {
            "id": oa.described(oa.STRING, "A decimal id."),
            "license_number": oa.STRING_OR_NULL,
            "license_expires_on": oa.described(oa.STRING_OR_NULL, "A date: `2027-05-31`."),
            "car_title": oa.STRING_OR_NULL,
            "car_plate": oa.STRING_OR_NULL,
            "car_color": oa.STRING_OR_NULL,
        },
        description="The seed's Driver model: the account's driver profile.",
    ),
}


def _doc_error(description: str, *keys: str, message: str, retry_after: bool = False) -> dict[str, Any]:
    schema = oa.narrowed(ERROR_SCHEMA, errors={"propertyNames": {"enum": list(keys)}})
    example = {"errors": {keys[0]: [message]}}
    if retry_after:
        return oa.limited(description, schema, example=example)
    return oa.response(description, schema, example=example)


def _doc_invalid(fields: str, key: str, message: str) -> dict[str, Any]:
    description = f"Invalid input, keyed by the field ({fields}; `body` when the body is not a JSON object)"
    return oa.response(description, oa.ref(ERROR_SCHEMA), example={"errors": {key: [message]}})


_TOO_LARGE = _doc_error("The body is over the size limit", "payload_too_large", message="Payload too large")
_INTERNAL = _doc_error("Unexpected server error", "internal_error", message="Internal server error")
_LIMITED = _doc_error(
    "A limit refused the request (resend interval, daily SMS quota, per-address or hourly cap, a locked phone)",
    "too_many_requests",
    message="A new code can be requested later",
    retry_after=True,
)
_DELIVERY_FAILED = _doc_error(
    "The code could not be delivered (retry at once)",
    "delivery_failed",
    message="The code could not be delivered, try again",
)
_LANGUAGE = [oa.accept_language("en")]
_PIN = {
    "description": "The PIN: `WASHGATE_OTP_LENGTH` (default 4) digits, as a JSON number or a string.",
    "oneOf": [{"type": "integer", "minimum": 0}, oa.DIGITS],
}
_PHONE = {
    "description": "The phone: `79160000000`, `+79160000000` (E.164) or `8 916 ...`; a JSON number is accepted too.",
    "oneOf": [oa.STRING, {"type": "integer", "minimum": 1}],
}
_TOKEN_EXAMPLE = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxNyJ9.c2lnbmF0dXJl",
    "refresh_token": "7hbe5F3DvlRXSN9Rs8BG",
    "token_type": "Bearer",
    "expires_in": 900,
    "activation_needed": False,
}
_USER_EXAMPLE = {
    "id": "17",
    "name": "Ivan",
    "email": "foo@wheely.com",
    "phone": "79160000000",
    "has_password": True,
    "created_at": "2023-04-15T16:40:28.152Z",
}

OPENAPI: oa.Operations = {
    ("POST", f"{OAUTH_PREFIX}/token"): {
        "operationId": "oauthToken",
        "summary": "Get a token by e-mail + password, or by phone (a PIN goes by SMS)",
        "description": (
            "`app_id` names the client app (unknown or blocked: 401 `invalid_app`). E-mail + password answers an "
            "active token with the user (and driver, when the account has a driver profile). A phone answers a "
            "token awaiting activation (`activation_needed: true`) and sends a PIN by SMS; a phone with no "
            "account gets one, inactive until the PIN is entered. Both e-mail/password and phone: 400 keyed "
            "`phone`; neither: 400 keyed `email`. Wrong passwords are capped per account and hour (429)."
        ),
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            {
                "oneOf": [
                    oa.fields(
                        {
                            "app_id": oa.described(oa.STRING, "The app's `app_id` (24 hex digits)."),
                            "email": oa.STRING,
                            "password": oa.described(oa.STRING, "At most 1024 characters.", maxLength=1024),
                        },
                        required=("app_id", "email", "password"),
                        description="Password Payload",
                    ),
                    oa.fields(
                        {"app_id": oa.described(oa.STRING, "The app's `app_id` (24 hex digits)."), "phone": _PHONE},
                        required=("app_id", "phone"),
                        description="Phone Payload",
                    ),
                ]
            },
            example={"app_id": "55e08577e779891040000001", "email": "foo@wheely.com", "password": "qwerty123"},
        ),
        "responses": {
            "200": oa.response(
                "A token: with `user` (and `driver`) for e-mail + password, alone for a phone",
                {
                    "oneOf": [
                        oa.closed(
                            {
                                "token": oa.ref("OAuthToken"),
                                "user": oa.ref("OAuthUser"),
                                "driver": oa.ref("OAuthDriver"),
                            },
                            optional=("driver",),
                            description="E-mail + password: an active token.",
                        ),
                        oa.closed(
                            {
                                "token": {
                                    "allOf": [
                                        oa.ref("OAuthToken"),
                                        {"properties": {"activation_needed": {"const": True}}},
                                    ]
                                }
                            },
                            description="Phone: a token awaiting activation with the PIN sent by SMS.",
                        ),
                    ]
                },
                example={"token": _TOKEN_EXAMPLE, "user": _USER_EXAMPLE},
            ),
            "400": _doc_invalid("`app_id`, `email`, `password`, `phone`", "email", "Email must be valid"),
            "401": _doc_error(
                "An unknown or blocked app (`invalid_app`), or a wrong e-mail or password (`invalid_user`)",
                "invalid_app",
                "invalid_user",
                message="Bad app",
            ),
            "413": _TOO_LARGE,
            "429": _LIMITED,
            "500": _INTERNAL,
            "502": _DELIVERY_FAILED,
        },
    },
    ("PUT", f"{OAUTH_PREFIX}/activate"): {
        "operationId": "oauthActivate",
        "summary": "Activate a phone token with the PIN sent to the phone",
        "description": (
            "`token` is the access token the token endpoint answered; on success that same token (and its "
            "refresh token) works, and an inactive account becomes active. A wrong PIN spends an attempt; spent "
            "attempts answer `invalid_pin` whatever the PIN; a locked phone answers 429."
        ),
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields(
                {"token": oa.described(oa.STRING, "The access token to activate."), "pin": _PIN},
                required=("token", "pin"),
            ),
            example={"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxNyJ9.c2lnbmF0dXJl", "pin": 1234},
        ),
        "responses": {
            "200": oa.response(
                "Activated", oa.closed({"user": oa.ref("OAuthUser")}), example={"user": _USER_EXAMPLE | {"email": None}}
            ),
            "400": _doc_invalid("`token`, `pin`", "pin", "Pin must be valid"),
            "401": _doc_error(
                "A wrong PIN or one out of attempts (`invalid_pin`), or a token that is not a pending phone token "
                "(`invalid_token`)",
                "invalid_pin",
                "invalid_token",
                message=WRONG_PIN,
            ),
            "413": _TOO_LARGE,
            "429": _LIMITED,
            "500": _INTERNAL,
        },
    },
    ("POST", f"{OAUTH_PREFIX}/refresh"): {
        "operationId": "oauthRefresh",
        "summary": "Rotate a refresh token (the old one dies; presenting it again ends the session)",
        "description": (
            "Only tokens issued for this app refresh here; a token awaiting activation does not refresh. A wrong "
            "`app_secret` or a blocked app is `invalid_app`."
        ),
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields(
                {
                    "app_id": oa.STRING,
                    "app_secret": oa.STRING,
                    "refresh_token": oa.described(oa.STRING, "The refresh token to rotate."),
                },
                required=("app_id", "app_secret", "refresh_token"),
            ),
            example={
                "app_id": "55e08577e779891040000001",
                "app_secret": "55e08577e779891040000001",
                "refresh_token": "7hbe5F3DvlRXSN9Rs8BG",
            },
        ),
        "responses": {
            "200": oa.response(
                "A fresh pair", oa.closed({"token": oa.ref("OAuthToken")}), example={"token": _TOKEN_EXAMPLE}
            ),
            "400": _doc_invalid("`app_id`, `app_secret`, `refresh_token`", "refresh_token", "This field is required"),
            "401": _doc_error(
                "Wrong app credentials (`invalid_app`), or a refresh token that is unknown, used, expired, of "
                "another app, awaiting activation or of a deleted account (`invalid_refresh_token`)",
                "invalid_app",
                "invalid_refresh_token",
                message="The refresh token is incorrect",
            ),
            "413": _TOO_LARGE,
            "500": _INTERNAL,
        },
    },
    ("POST", f"{AUTO_CALL_PREFIX}/{{phone}}"): {
        "operationId": "oauthAutoCall",
        "summary": "A robot call dictating a fresh PIN for the phone's token awaiting activation",
        "description": "The new PIN replaces the pending one. No body is read.",
        "parameters": [
            oa.parameter("phone", "path", "The phone whose token awaits activation.", example="79160000000"),
            *_LANGUAGE,
        ],
        "responses": {
            "200": oa.response("The call is placed", oa.EMPTY_OBJECT, example={}),
            "400": _doc_invalid("`phone`", "phone", "Phone number must be valid"),
            "404": _doc_error(
                "No token awaits activation for this phone (or it is older than an access token's lifetime)",
                "entity_not_found",
                message="Not found",
            ),
            "413": _TOO_LARGE,
            "429": _LIMITED,
            "500": _INTERNAL,
            "502": _DELIVERY_FAILED,
        },
    },
}
