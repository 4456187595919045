"""OpenAPI 3.1 declarations of the legacy REST APIs: one module per API, and their building blocks.

Each module here declares `OPENAPI: Operations` (one operation object per route and method, keyed
by the method and the full path as routed) and `OPENAPI_SCHEMAS` (its component schemas, its error
shape among them) for the API module of the same name; washgate/docs.py merges them into
/openapi.json and checks that every route has exactly one declaration.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
Operation = dict[str, Any]
# (METHOD, full path as routed, e.g. ("POST", "/api/v2/auth/send/otp")) -> OpenAPI operation object
Operations = dict[tuple[str, str], Operation]

JSON = "application/json"

STRING: Schema = {"type": "string"}
STRING_OR_NULL: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
NULL: Schema = {"type": "null"}
BOOLEAN: Schema = {"type": "boolean"}
EMPTY_OBJECT: Schema = {"type": "object", "properties": {}, "additionalProperties": False}
DIGITS: Schema = {"type": "string", "pattern": "^[0-9]+$"}

# --- security ----------------------------------------------------------------

USER_TOKEN: list[dict[str, list[str]]] = [{"userToken": []}]
SERVICE_TOKEN: list[dict[str, list[str]]] = [{"serviceToken": []}]
APP_TOKEN: list[dict[str, list[str]]] = [{"appToken": []}]

SECURITY_SCHEMES: dict[str, Any] = {
    "userToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": (
            "A user's access token (a JWT from seed 004's register/login/refresh, seed 003's token endpoint or "
            "GraphQL), sent as `Authorization: Bearer <token>` or `Authorization: OAuth <token>` (the seeds' "
            "spelling). Tokens die with their session (logout, refresh-token reuse, a blocked app, a deleted "
            "account); a seed 003 phone token works only once activated."
        ),
    },
    "serviceToken": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "A server-to-server token (`washgate service-tokens create`, `wgs_...`) as "
            "`Authorization: Bearer <token>`; a user's token is refused."
        ),
    },
    "appToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Application-Token",
        "description": (
            "A client app's CallUp token (`app_token` of `washgate apps create`): a UUID, accepted in any "
            "spelling (upper case, braces, no hyphens). Missing, unknown or blocked: 403 `access denied`, "
            "before any other check."
        ),
    },
}

# --- schemas -----------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), description: str | None = None) -> Schema:
    """An object with exactly these keys (all required but `optional`): a response body, key for key."""
    schema: Schema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = [name for name in properties if name not in optional]
    schema["additionalProperties"] = False
    return schema


def fields(properties: dict[str, Schema], *, required: tuple[str, ...], description: str | None = None) -> Schema:
    """A request object: the keys the server reads (others are ignored)."""
    schema: Schema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    schema["required"] = list(required)
    return schema


def described(schema: Schema, description: str, **extra: Any) -> Schema:
    return {**schema, "description": description, **extra}


def narrowed(base: str, **properties: Schema) -> Schema:
    """The component `base`, with some properties narrowed (an error's code for one status)."""
    return {"allOf": [ref(base), {"properties": properties}]}


# --- responses -----------------------------------------------------------------

RETRY_AFTER: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds until the limit that refused the request ends.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def response(
    description: str,
    schema: Schema | None = None,
    *,
    example: Any = None,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A response object; `schema` None is a response without a body."""
    answer: dict[str, Any] = {"description": description}
    if headers:
        answer["headers"] = headers
    if schema is not None:
        media: dict[str, Any] = {"schema": schema}
        if example is not None:
            media["example"] = example
        answer["content"] = {JSON: media}
    return answer


def limited(description: str, schema: Schema, *, example: Any = None) -> dict[str, Any]:
    """A refusal by a limit: the body plus its `Retry-After` header."""
    return response(description, schema, example=example, headers=RETRY_AFTER)


# --- request bodies and parameters ------------------------------------------------


def request_body(
    schema: Schema, *, example: Any = None, required: bool = True, description: str | None = None
) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    body: dict[str, Any] = {"required": required, "content": {JSON: media}}
    if description:
        body["description"] = description
    return body


def parameter(
    name: str,
    where: str,
    description: str,
    schema: Schema | None = None,
    *,
    required: bool = False,
    example: Any = None,
) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": name,
        "in": where,
        "description": description,
        "required": required or where == "path",
        "schema": schema or STRING,
    }
    if example is not None:
        param["example"] = example
    return param


def accept_language(default: str) -> dict[str, Any]:
    return parameter(
        "Accept-Language",
        "header",
        f"Language of the messages (and of any code's SMS or call): `ru` or `en`, q-values honoured; "
        f"default `{default}`.",
        example="en-US,en;q=0.9" if default == "ru" else "ru",
    )
