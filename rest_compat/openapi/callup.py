"""OpenAPI declarations of seed 001 (CallUp) under /v1: flash-call orders and their code checks for client apps.

The operations of its routes (`OPENAPI`) and its component schemas (`OPENAPI_SCHEMAS`, its
error shape among them), merged into /openapi.json by washgate/docs.py.
"""

from __future__ import annotations

from typing import Any

from rest_compat import openapi as oa
from rest_compat.callup import PREFIX

ERROR_SCHEMA = "CallUpError"
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    ERROR_SCHEMA: oa.closed(
        {
            "data": oa.NULL,
            "errors": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1,
                "items": oa.closed(
                    {"message": oa.described(oa.STRING, "In the request's language (default English).")}
                ),
            },
        },
        description="Every error of seed 001, whatever its status: the envelope with `data` null.",
    ),
    "CallUpOrder": oa.closed(
        {
            "id": oa.described(oa.STRING, "The order id (Call-ID), a UUID.", format="uuid"),
            "cid": oa.closed(
                {
                    "prefix": oa.described(oa.STRING, "The caller number's prefix (`WASHGATE_FLASHCALL_PREFIX`)."),
                    "mask": oa.described(oa.STRING, "The prefix followed by one `*` per code digit."),
                }
            ),
            "code": oa.closed(
                {
                    "len": oa.described(oa.INTEGER, "The code's length (`WASHGATE_OTP_LENGTH`, default 4)."),
                    "value": oa.described(
                        oa.DIGITS, "The code itself: only with `?fields=code.value` or a caller-chosen `code`."
                    ),
                },
                optional=("value",),
            ),
        },
        description="A flash-call order: the call comes from `prefix` + the code.",
    ),
}


def _doc_error(description: str, message: str, *, headers: bool = False) -> dict[str, Any]:
    example = {"data": None, "errors": [{"message": message}]}
    if headers:
        return oa.limited(description, oa.ref(ERROR_SCHEMA), example=example)
    return oa.response(description, oa.ref(ERROR_SCHEMA), example=example)


_DENIED = _doc_error(
    "`X-Application-Token` missing, unknown or blocked (checked before anything else)", "access denied"
)
_TOO_LARGE = _doc_error("The body is over the size limit", "payload too large")
_INTERNAL = _doc_error("Unexpected server error", "internal error")
_LANGUAGE = oa.accept_language("en")

OPENAPI: oa.Operations = {
    ("POST", f"{PREFIX}/orders"): {
        "operationId": "callupCreateOrder",
        "summary": "Order a flash call whose caller number ends with the code",
        "description": (
            'Scheme 1: `{"phone"}` (the code stays secret); scheme 2: `?fields=code.value` answers the code '
            'too; scheme 3: `{"phone", "code"}` calls with the caller-chosen code (and answers it). The '
            "limits (the phone's resend interval across apps, the app's hourly cap, the hourly cap of all "
            "deliveries) answer 429; a failed call answers 502 and leaves no order."
        ),
        "security": oa.APP_TOKEN,
        "parameters": [
            oa.parameter(
                "fields",
                "query",
                "`code.value` to get the code in the answer (comma-separated names; unknown ones are ignored).",
                example="code.value",
            ),
            _LANGUAGE,
        ],
        "requestBody": oa.request_body(
            oa.fields(
                {
                    "phone": oa.described(oa.STRING, "The user's phone: a string of 11 digits.", pattern="^[0-9]{11}$"),
                    "code": oa.described(
                        oa.DIGITS, "A caller-chosen code: a string of `WASHGATE_OTP_LENGTH` (default 4) digits."
                    ),
                },
                required=("phone",),
            ),
            example={"phone": "79161234567"},
        ),
        "responses": {
            "200": oa.response(
                "The call is placed",
                oa.closed({"data": oa.ref("CallUpOrder"), "errors": oa.NULL}),
                example={
                    "data": {
                        "id": "6999f209-5bb6-4581-9f91-5dba38812e13",
                        "cid": {"prefix": "7487260", "mask": "7487260****"},
                        "code": {"len": 4, "value": "0345"},
                    },
                    "errors": None,
                },
            ),
            "400": _doc_error(
                "Invalid JSON, a phone that is not 11 digits (or outside the allowed countries), or a chosen code "
                "that is not a string of the configured length",
                "Phone must be a string of 11 digits",
            ),
            "403": _DENIED,
            "413": _TOO_LARGE,
            "429": _doc_error("A limit refused the call", "A new code can be requested later", headers=True),
            "500": _INTERNAL,
            "502": _doc_error(
                "The call could not be placed (no order is left)", "The code could not be delivered, try again"
            ),
        },
    },
    ("GET", f"{PREFIX}/auth/{{order_id}}/{{code}}"): {
        "operationId": "callupCheckCode",
        "summary": "Check the code of an order (spends it on success)",
        "description": (
            "A right code verifies the order once. A wrong code costs one of its attempts (422); a used, expired "
            "or attempt-spent order answers 422 whatever the code; a code that is not digits of the configured "
            "length is 400 and costs nothing. `HEAD` is 405: it must not spend the code."
        ),
        "security": oa.APP_TOKEN,
        "parameters": [
            oa.parameter(
                "order_id",
                "path",
                "The order id, in any UUID spelling; an unknown, malformed or another app's id is 404.",
                example="6999f209-5bb6-4581-9f91-5dba38812e13",
            ),
            oa.parameter("code", "path", "The code: `WASHGATE_OTP_LENGTH` (default 4) digits.", example="0345"),
            _LANGUAGE,
        ],
        "responses": {
            "200": oa.response(
                "The code is right: the order is verified",
                oa.closed({"data": oa.closed({"success": {"const": True}}), "errors": oa.NULL}),
                example={"data": {"success": True}, "errors": None},
            ),
            "400": _doc_error("The code is not digits of the configured length", "The code must be 4 digits"),
            "403": _DENIED,
            "404": _doc_error("No such order for this app", "order not found"),
            "413": _TOO_LARGE,
            "422": _doc_error(
                "A wrong code, or an order already verified, expired or out of attempts", "The code is incorrect"
            ),
            "500": _INTERNAL,
        },
    },
}
