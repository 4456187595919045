"""OpenAPI declarations of seed 000 under /carwashes/1.x: masked phone, wash orders, the active order, annulment.

The operations of its routes (`OPENAPI`) and its component schemas (`OPENAPI_SCHEMAS`, its
error shape among them), merged into /openapi.json by washgate/docs.py.
"""

from __future__ import annotations

from typing import Any

from rest_compat import openapi as oa
from rest_compat.carwash import PREFIX

ERROR_SCHEMA = "CarwashError"
OPENAPI_SCHEMAS: dict[str, oa.Schema] = {
    ERROR_SCHEMA: oa.closed(
        {
            "code": oa.described(oa.STRING, "An ErrorCode name (`VALIDATION_FAILED`, `UNAUTHENTICATED`, ...)."),
            "message": oa.described(oa.STRING, "Human-readable, in the request's language (default Russian)."),
        },
        description="Every error of seed 000, whatever its status.",
    ),
    "CarwashActiveOrder": oa.closed(
        {
            "plate": oa.described(oa.STRING_OR_NULL, "The plate as the client sent it; null once the order is Active."),
            "car_title": oa.STRING,
            "code": oa.described(oa.STRING_OR_NULL, "The wash code; null unless the order is Active."),
            "carwashId": oa.described(oa.STRING, "The carwash's id (a decimal string)."),
            "status": {"type": "string", "enum": ["Paid", "Active"]},
        },
        description="The paid or active order (the seed's datasync shape, odd `carwashId` spelling included).",
    ),
}
ID = {"type": ["string", "integer"], "description": "A decimal id; a JSON integer is accepted too."}


def _doc_error(description: str, *codes: str, message: str) -> dict[str, Any]:
    schema = oa.narrowed(ERROR_SCHEMA, code={"enum": list(codes)})
    return oa.response(description, schema, example={"code": codes[0], "message": message})


_UNAUTHENTICATED = _doc_error(
    "No token, or one that is invalid, expired, logged out or not yet activated",
    "UNAUTHENTICATED",
    message="Требуется авторизация",
)
_TOO_LARGE = _doc_error("The body is over the size limit", "PAYLOAD_TOO_LARGE", message="Слишком большой запрос")
_INTERNAL = _doc_error("Unexpected server error", "INTERNAL_ERROR", message="Внутренняя ошибка сервера")
_INVALID_BODY = _doc_error(
    "Invalid JSON, or a field missing or of the wrong type",
    "VALIDATION_FAILED",
    message="Поле car.plate отсутствует или заполнено неверно",
)
_LANGUAGE = [oa.accept_language("ru")]

OPENAPI: oa.Operations = {
    ("GET", f"{PREFIX}/user/phone"): {
        "operationId": "carwashUserPhone",
        "summary": "The user's verified phone, masked, and its phone_id",
        "description": "The `phone_id` is what `POST /carwashes/1.x/order` expects in `user.phone_id`.",
        "security": oa.USER_TOKEN,
        "parameters": _LANGUAGE,
        "responses": {
            "200": oa.response(
                "The account's verified phone",
                oa.closed({"masked_phone": oa.STRING, "phone_id": oa.described(oa.STRING, "A decimal id.")}),
                example={"masked_phone": "+7 999 ***-**-33", "phone_id": "1234567890"},
            ),
            "401": _UNAUTHENTICATED,
            "413": _TOO_LARGE,
            "422": _doc_error(
                "The account has no verified phone",
                "PHONE_NOT_FOUND",
                message="Нет подтверждённого телефона в паспорте",
            ),
            "500": _INTERNAL,
        },
    },
    ("POST", f"{PREFIX}/order"): {
        "operationId": "carwashCreateOrder",
        "summary": "Buy a wash code: answers the pay_token to pay with",
        "description": (
            "Creates an order in status CREATED. An unpaid (CREATED) order of the user is cancelled and its pay "
            "token dies; while one is paid or active the answer is 422 TOO_MANY_CODES. The token is checked "
            "before the body (401 wins over 400). Plates are Russian registration plates (`x123xx`, `х123хх77`, "
            "`A777AA777`; Cyrillic or Latin look-alike letters, any case, spaces and hyphens ignored)."
        ),
        "security": oa.USER_TOKEN,
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields(
                {
                    "user": oa.fields({"phone_id": ID}, required=("phone_id",)),
                    "car": oa.fields(
                        {
                            "title": oa.described(oa.STRING, "Make and model: printable, not blank."),
                            "plate": oa.STRING,
                        },
                        required=("title", "plate"),
                    ),
                    "carwash_id": ID,
                },
                required=("user", "car", "carwash_id"),
            ),
            example={
                "user": {"phone_id": "1234567890"},
                "car": {"title": "Toyota RAV4", "plate": "x123xx"},
                "carwash_id": "12345",
            },
        ),
        "responses": {
            "200": oa.response(
                "The order was created",
                oa.closed({"pay_token": oa.described(oa.STRING, "`payment:` + a Fernet token.", pattern="^payment:")}),
                example={"pay_token": "payment:gAAAAABeRd8t5MR3HZFQmUNm335isfaiqk0BnR9ajPxutTh-3ZO9w3taP"},
            ),
            "400": _INVALID_BODY,
            "401": _UNAUTHENTICATED,
            "413": _TOO_LARGE,
            "422": _doc_error(
                "`phone_id` is not the user's current phone, the plate is not a Russian plate, the carwash is "
                "unknown, or a paid or active order exists",
                "INVALID_PHONE_ID",
                "INVALID_CAR_PLATE",
                "CARWASH_NOT_FOUND",
                "TOO_MANY_CODES",
                message="Указанный номер телефона не найден",
            ),
            "500": _INTERNAL,
        },
    },
    ("GET", f"{PREFIX}/order/active"): {
        "operationId": "carwashActiveOrder",
        "summary": "The user's paid or active order; 204 when there is none",
        "security": oa.USER_TOKEN,
        "parameters": _LANGUAGE,
        "responses": {
            "200": oa.response(
                "The order (status Paid or Active)",
                oa.ref("CarwashActiveOrder"),
                example={
                    "plate": None,
                    "car_title": "Honda Civic",
                    "code": "7KQ2M9XA",
                    "carwashId": "12345",
                    "status": "Active",
                },
            ),
            "204": oa.response("No paid or active order (empty body)"),
            "401": _UNAUTHENTICATED,
            "413": _TOO_LARGE,
            "500": _INTERNAL,
        },
    },
    ("POST", f"{PREFIX}/order/used"): {
        "operationId": "carwashOrderUsed",
        "summary": "The carwash network annuls a wash code (server to server)",
        "description": (
            "ACTIVE -> USED. Again for a USED order: 200 `{}` unchanged. Only service tokens; credentials are "
            "checked before the body (401 wins over 400)."
        ),
        "security": oa.SERVICE_TOKEN,
        "parameters": _LANGUAGE,
        "requestBody": oa.request_body(
            oa.fields({"order_id": ID}, required=("order_id",)), example={"order_id": "123456789"}
        ),
        "responses": {
            "200": oa.response("The order is used", oa.EMPTY_OBJECT, example={}),
            "400": _doc_error(
                "Invalid JSON, or `order_id` missing or of the wrong type",
                "VALIDATION_FAILED",
                message="Поле order_id отсутствует или заполнено неверно",
            ),
            "401": _doc_error(
                "No service token, or a revoked or unknown one (a user's token included)",
                "UNAUTHENTICATED",
                message="Требуется действующий сервисный токен",
            ),
            "404": _doc_error("No such order", "NOT_FOUND", message="Заказ не найден"),
            "413": _TOO_LARGE,
            "422": _doc_error(
                "The order is neither ACTIVE nor USED",
                "INVALID_ORDER_STATUS",
                message="Статус заказа не позволяет это действие",
            ),
            "500": _INTERNAL,
        },
    },
}
