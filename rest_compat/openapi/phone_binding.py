"""OpenAPI declarations of seed 002 at /v1/auth/phone: bind the passport phone, confirm by SMS code, unbind.

The operations of its routes (`OPENAPI`) and its component schemas (`OPENAPI_SCHEMAS`, its
error shape among them), merged into /openapi.json by washgate/docs.py.
"""

from __future__ import annotations

from typing import Any

from rest_compat import openapi as oa
from rest_compat.phone_binding import ERRORS, OTHER_ACTIVE_REQUEST, PREFIX, REQUEST_ERRORS

ERROR_SCHEMA = "PhoneBindingError"
SEED_TIME = oa.described(
    oa.STRING,
    "UTC with milliseconds, as the seed shows it: `2019-07-26T12:18:56.197+0000`.",
    pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$",
)
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    ERROR_SCHEMA: oa.closed(
        {
            "code": {
                "type": "string",
                "enum": sorted({code for _, code in ERRORS.values()} | {code for _, code in REQUEST_ERRORS.values()}),
            },
            "nextCodeAvailableAt": oa.described(
                SEED_TIME, "Only with `otherActiveRequest`: when a new code may be asked for."
            ),
        },
        optional=("nextCodeAvailableAt",),
        description="Every error of seed 002, whatever its status: a code, never a message.",
    ),
    "PhoneBindingStarted": oa.closed(
        {
            "isConfirmationRequired": oa.described(
                oa.BOOLEAN,
                "false: bound at once (verified less than `WASHGATE_PHONE_RECENT_SECONDS` ago, or already bound); "
                "true: an SMS code went to the account's phone, confirm it.",
            ),
            "nextCodeAvailableAt": oa.described(
                SEED_TIME, "When a new code may be asked for (now when bound at once)."
            ),
        }
    ),
}


def _doc_error(description: str, *codes: str, retry_after: bool = False) -> dict[str, Any]:
    """`nextCodeAvailableAt` comes with `otherActiveRequest` and only with it."""
    example: dict[str, Any] = {"code": codes[0]}
    narrowing: oa.Schema = {"properties": {"code": {"enum": list(codes)}}}
    if codes == (OTHER_ACTIVE_REQUEST,):
        narrowing["required"] = ["code", "nextCodeAvailableAt"]
        example["nextCodeAvailableAt"] = "2019-07-26T12:18:56.197+0000"
    else:
        narrowing["not"] = {"required": ["nextCodeAvailableAt"]}
    schema = {"allOf": [oa.ref(ERROR_SCHEMA), narrowing]}
    if retry_after:
        return oa.limited(description, schema, example=example)
    return oa.response(description, schema, example=example)


_NO_RIGHTS = "The token is missing, invalid, expired or logged out (`noRights`)"
_TOO_LARGE = _doc_error(
    "The body is over the size limit (no body is needed, but one is still limited)", "payloadTooLarge"
)
_INTERNAL = _doc_error("Unexpected server error", "internalError")
_REPEAT_REFUSED = _doc_error(
    "A repeat before `nextCodeAvailableAt` whose code can no longer be used (attempts spent, expired or used), "
    "the per-address or hourly cap, or a phone locked after too many wrong codes; `nextCodeAvailableAt` is "
    "when that ends",
    OTHER_ACTIVE_REQUEST,
    retry_after=True,
)
_CODE_REFUSED = _doc_error(
    "The code's attempts are spent (whatever the code), or the phone is locked after too many wrong codes; "
    "`nextCodeAvailableAt` is when a new code may be asked for",
    OTHER_ACTIVE_REQUEST,
    retry_after=True,
)
_PARAMETERS = [
    oa.parameter("Lang", "header", "The user's locale (`ru`, `en`, `en-US`, `en_US`); wins over Accept-Language."),
    oa.parameter("Lang", "query", "The same as the `Lang` header (the header wins)."),
    oa.accept_language("ru"),
]
_BINDING_EXAMPLE = {"isConfirmationRequired": True, "nextCodeAvailableAt": "2019-07-26T12:18:56.197+0000"}

OPENAPI: oa.Operations = {
    ("POST", f"{PREFIX}/bind"): {
        "operationId": "phoneBind",
        "summary": "Bind the account's (passport) phone: at once when verified recently, else by SMS code",
        "description": "No body is read. The SMS text follows `Lang`, then Accept-Language (default Russian).",
        "security": oa.USER_TOKEN,
        "parameters": _PARAMETERS,
        "responses": {
            "200": oa.response(
                "Bound at once, or an SMS code was sent", oa.ref("PhoneBindingStarted"), example=_BINDING_EXAMPLE
            ),
            "208": oa.response(
                "The SMS was already sent and its code is still usable: nothing is sent, same `nextCodeAvailableAt`",
                oa.ref("PhoneBindingStarted"),
                example=_BINDING_EXAMPLE,
            ),
            "401": _doc_error(
                f"{_NO_RIGHTS}; the account's phone changed since another number was bound (`phoneChanged`: unbind "
                "first); or the account has no verified phone (`noBoundPhone`)",
                "noRights",
                "phoneChanged",
                "noBoundPhone",
            ),
            "413": _TOO_LARGE,
            "423": _doc_error("The phone's daily SMS quota is spent", "smsQuotaExceed", retry_after=True),
            "429": _REPEAT_REFUSED,
            "500": _INTERNAL,
            "502": _doc_error("The SMS could not be sent (retry at once)", "smsSendFailed"),
        },
    },
    ("POST", f"{PREFIX}/confirm"): {
        "operationId": "phoneConfirm",
        "summary": "Confirm the binding with the SMS code",
        "security": oa.USER_TOKEN,
        "parameters": _PARAMETERS,
        "requestBody": oa.request_body(
            oa.fields(
                {
                    "code": {
                        "description": "The SMS code: `WASHGATE_OTP_LENGTH` (default 4) digits, as a string or a "
                        "JSON number.",
                        "oneOf": [oa.DIGITS, {"type": "integer", "minimum": 0}],
                    }
                },
                required=("code",),
            ),
            example={"code": "1234"},
        ),
        "responses": {
            "200": oa.response(
                "The phone is bound",
                oa.closed({"boundAt": SEED_TIME}),
                example={"boundAt": "2019-07-26T12:18:56.197+0000"},
            ),
            "400": _doc_error(
                "Invalid JSON, or a code that is not digits of the configured length (no attempt spent)",
                "invalidRequest",
            ),
            "401": _doc_error(
                f"{_NO_RIGHTS}; or another number is still bound (`phoneChanged`, no attempt spent)",
                "noRights",
                "phoneChanged",
            ),
            "404": _doc_error("No code is pending (never asked for, used, replaced or expired)", "noActiveRequest"),
            "413": _TOO_LARGE,
            "422": _doc_error("A wrong code (one attempt spent)", "invalidCode"),
            "429": _CODE_REFUSED,
            "500": _INTERNAL,
        },
    },
    ("POST", f"{PREFIX}/unbind"): {
        "operationId": "phoneUnbind",
        "summary": "Unbind whichever phone is bound",
        "description": "No body is read.",
        "security": oa.USER_TOKEN,
        "parameters": _PARAMETERS,
        "responses": {
            "200": oa.response("Unbound", oa.EMPTY_OBJECT, example={}),
            "401": _doc_error(f"{_NO_RIGHTS}; or nothing is bound (`noBoundPhone`)", "noRights", "noBoundPhone"),
            "413": _TOO_LARGE,
            "500": _INTERNAL,
        },
    },
}
