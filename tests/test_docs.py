"""/openapi.json and /docs: a valid OpenAPI 3.1 document with one operation per legacy route,
whose declared statuses, headers and schemas are those of the server's real answers."""

from __future__ import annotations

import argparse
import copy
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlmodel import delete, select, update
from starlette.routing import Mount, Route

from core.clock import utcnow
from models import CarwashOrder, Cooldown, User
from resolvers import apps, callup, carwash, oauth_tokens, otp_auth, phone_binding
from rest_compat import LEGACY_APIS, api_for_path
from rest_compat.openapi import carwash as carwash_api
from tests.carwash_helpers import (
    BASE,
    activate,
    add_carwash,
    bearer,
    new_service_token,
    order_body,
    pay,
    phone_id_of,
    signed_up,
    user_auth,
)
from tests.support import wrong_code
from washgate import admin, docs

DOCUMENT_URI = "urn:washgate:openapi"
ERROR_SCHEMAS = {
    "seed 000 carwashes": "CarwashError",
    "seed 001 CallUp": "CallUpError",
    "seed 002 phone binding": "PhoneBindingError",
    "seed 003 oauth tokens": "OAuthError",
    "seed 004 phone auth": "PhoneAuthError",
}
PHONE = "+79161234567"
TEST_PHONE, TEST_CODE = "+79990000001", "1234"
BIG_BODY = b"{" + b" " * 1_100_000 + b"}"


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Spec:
    """The document, and checks of real answers against what it declares."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.seen: set[tuple[str, str, str]] = set()

    def validator(self, *pointer: str) -> jsonschema.Draft202012Validator:
        """A validator of the schema at `pointer` in the document, its `$ref`s resolved in the document."""
        ref = f"{DOCUMENT_URI}#/" + "/".join(_escape(part) for part in pointer)
        return jsonschema.Draft202012Validator({"$ref": ref}, registry=self.registry)

    def check(self, method: str, path: str, response: httpx.Response, status_code: int | None = None) -> Any:
        """Assert that `response` (of `status_code`, when given) is one the document declares for
        (method, path); its JSON body."""
        if status_code is not None:
            assert response.status_code == status_code, response.text[:200]
        operation = self.document["paths"][path][method.lower()]
        status = str(response.status_code)
        declared = operation["responses"].get(status)
        assert declared is not None, f"{method} {path} answered {status}, undeclared: {response.text[:200]}"
        self.seen.add((method, path, status))
        for name, header in declared.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, f"{method} {path} {status} without {name}"
            if name in response.headers:
                value = int(response.headers[name])
                jsonschema.Draft202012Validator(header["schema"]).validate(value)
        if "content" not in declared:
            assert response.content == b"", f"{method} {path} {status} has a body the document does not declare"
            return None
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        pointer = ("paths", path, method.lower(), "responses", status, "content", "application/json", "schema")
        self.validator(*pointer).validate(body)
        return body


@pytest.fixture
async def spec(client) -> Spec:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return Spec(response.json())


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def _walk(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            found |= _walk(route.routes, prefix + route.path)
        elif isinstance(route, Route) and api_for_path(prefix + route.path) is not None:
            found |= {(method, prefix + route.path) for method in route.methods or () if method != "HEAD"}
    return found


# --- the document ------------------------------------------------------------------


async def test_the_document_is_valid_openapi_3_1(client, spec):
    validate(spec.document)  # raises on anything that is not OpenAPI 3.1
    assert spec.document["openapi"] == "3.1.0"
    assert set(spec.document["components"]["securitySchemes"]) == {"userToken", "serviceToken", "appToken"}
    assert set(ERROR_SCHEMAS.values()) <= set(spec.document["components"]["schemas"])
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/api/v2/auth/login" in page.text and "200 400 413 422 429 500" in page.text


async def test_every_legacy_route_has_one_operation_and_every_operation_a_route(app, spec):
    routed = _walk(app.router.routes)
    assert routed == _operations(spec.document)
    assert {api.name for api in LEGACY_APIS} == {tag["name"] for tag in spec.document["tags"]}
    assert len(routed) == 17


def test_a_route_without_a_declaration_or_a_declaration_without_a_route_fails_loudly(monkeypatch):
    docs.build_document()  # as declared: fine
    key = ("GET", f"{carwash_api.PREFIX}/order/active")
    operations = dict(carwash_api.OPENAPI)
    removed = operations.pop(key)
    monkeypatch.setattr(carwash_api, "OPENAPI", operations)
    with pytest.raises(
        docs.UndeclaredRoutes, match=re.escape("GET /carwashes/1.x/order/active has no declared operation")
    ):
        docs.build_document()
    monkeypatch.setattr(carwash_api, "OPENAPI", {**operations, key: removed, ("GET", "/carwashes/1.x/nowhere"): {}})
    with pytest.raises(docs.UndeclaredRoutes, match=re.escape("GET /carwashes/1.x/nowhere is declared but not routed")):
        docs.build_document()


def test_every_operation_says_what_it_needs_and_answers_in_its_apis_shapes(spec):
    operation_ids = []
    for path, item in spec.document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            assert operation["summary"] and operation["tags"], where
            assert "Accept-Language" in {p["name"] for p in operation["parameters"]}, where
            for name in re.findall(r"{(\w+)}", path):
                assert {"name": name, "in": "path"}.items() <= next(
                    p for p in operation["parameters"] if p["name"] == name
                ).items(), where
            responses = operation["responses"]
            assert any(status.startswith("2") for status in responses), where
            assert {"413", "500"} <= set(responses), where
            error_schema = ERROR_SCHEMAS[operation["tags"][0]]
            for status, answer in responses.items():
                if status.startswith(("4", "5")):
                    assert f"#/components/schemas/{error_schema}" in repr(answer["content"]), f"{where} {status}"
                if status in ("423", "429"):
                    assert answer["headers"]["Retry-After"]["required"] is True, f"{where} {status}"
                if status.startswith("2") and "content" in answer:
                    assert "example" in answer["content"]["application/json"], f"{where} {status}"
    assert len(operation_ids) == len(set(operation_ids))


def test_every_example_matches_its_schema(spec):
    checked = 0
    for path, item in spec.document["paths"].items():
        for method, operation in item.items():
            media = [("requestBody", "content", "application/json")] if "requestBody" in operation else []
            media += [("responses", status, "content", "application/json") for status in operation["responses"]]
            for pointer in media:
                node = operation
                for part in pointer:
                    node = node.get(part, {})
                if "example" in node:
                    spec.validator("paths", path, method, *pointer, "schema").validate(node["example"])
                    checked += 1
    assert checked > 60


# --- real answers, API by API ------------------------------------------------------


@pytest.mark.settings(test_phones=[f"{TEST_PHONE}={TEST_CODE}"])
async def test_seed_004_answers_match_the_document(client, deliveries, execute, spec):
    send, register, login, refresh = (f"/api/v2/auth/{name}" for name in ("send/otp", "register", "login", "refresh"))
    assert spec.check("POST", send, await client.post(send, json={"phone": PHONE}))["data"]["target"] == PHONE
    limited = spec.check("POST", send, await client.post(send, json={"phone": PHONE}))
    assert limited["code"] == 40
    assert spec.check("POST", send, await client.post(send, json={"phone": "12345"}))["code"] == 40
    code = deliveries.last_code(PHONE)
    required = spec.check("POST", login, await client.post(login, json={"phone": PHONE, "otp": code}))
    assert required["data"]["type"] == "register-required"
    for _ in range(5):
        wrong = await client.post(login, json={"phone": PHONE, "otp": wrong_code(code)})
        assert spec.check("POST", login, wrong)["code"] == 5
    spent = await client.post(login, json={"phone": PHONE, "otp": code})
    assert spec.check("POST", login, spent)["code"] == 5 and "Retry-After" not in spent.headers

    terms = {"isTermsAccepted": True, "isPromoTermsAccepted": False}
    created = await client.post(register, json={"phone": TEST_PHONE, "otp": TEST_CODE, **terms})
    assert spec.check("POST", register, created)["data"]["type"] == "register-success"
    again = await client.post(register, json={"phone": TEST_PHONE, "otp": int(TEST_CODE), **terms})
    assert spec.check("POST", register, again)["code"] == 41
    refused = await client.post(register, json={"phone": TEST_PHONE, "otp": TEST_CODE, "isTermsAccepted": False})
    assert spec.check("POST", register, refused)["code"] == 40
    signed_in = spec.check("POST", login, await client.post(login, json={"phone": TEST_PHONE, "otp": TEST_CODE}))
    assert signed_in["data"]["type"] == "login-success" and signed_in["data"]["client"]["cards"]

    token = signed_in["data"]["tokens"]["refreshToken"]
    rotated = spec.check("GET", refresh, await client.get(refresh, params={"refreshToken": token}))
    assert spec.check("GET", refresh, await client.get(refresh, params={"refreshToken": "nope"}))["code"] == 5
    assert spec.check("GET", refresh, await client.get(refresh))["code"] == 40
    await execute(delete(User))
    gone = await client.request("GET", refresh, json={"refreshToken": rotated["data"]["refreshToken"]})
    assert spec.check("GET", refresh, gone)["code"] == 4

    deliveries.failing = True
    failed = await client.post(send, json={"phone": "+79161234568"})
    assert spec.check("POST", send, failed)["code"] == 6
    assert {status for _, path, status in spec.seen if path.startswith("/api/v2")} == {
        "200", "201", "400", "401", "404", "409", "422", "429", "500"
    }  # fmt: skip


async def test_seed_001_answers_match_the_document(app, client, deliveries, spec):
    orders = "/v1/orders"
    check = "/v1/auth/{order_id}/{code}"
    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name="shop")
        other = await apps.create_app(session, services=app.state.services, name="other")
    auth = {"X-Application-Token": creds.app_token}
    placed = await client.post(orders, json={"phone": "79161234567"}, params={"fields": "code.value"}, headers=auth)
    data = spec.check("POST", orders, placed)["data"]
    assert data["code"]["value"] == deliveries.last_code(PHONE)
    chosen = await client.post(orders, json={"phone": "79161234568", "code": "0345"}, headers=auth)
    assert spec.check("POST", orders, chosen)["data"]["code"] == {"len": 4, "value": "0345"}
    plain = await client.post(orders, json={"phone": "79161234569"}, headers=auth)
    assert "value" not in spec.check("POST", orders, plain)["data"]["code"]
    limited = await client.post(orders, json={"phone": "79161234567"}, headers={"X-Application-Token": other.app_token})
    assert spec.check("POST", orders, limited)["errors"][0]["message"] == "A new code can be requested later"
    spec.check("POST", orders, await client.post(orders, json={"phone": "+79161234567"}, headers=auth), 400)
    spec.check("POST", orders, await client.post(orders, json={"phone": "79161234567"}), 403)

    url = f"/v1/auth/{data['id']}"
    spec.check("GET", check, await client.get(f"{url}/12", headers=auth), 400)
    spec.check("GET", check, await client.get(f"{url}/{wrong_code(data['code']['value'])}", headers=auth), 422)
    spec.check("GET", check, await client.get(f"/v1/auth/{other.app_token}/1234", headers=auth), 404)
    spec.check("GET", check, await client.get(f"{url}/1234"), 403)
    verified = await client.get(f"{url}/{data['code']['value']}", headers=auth)
    assert spec.check("GET", check, verified) == {"data": {"success": True}, "errors": None}

    deliveries.failing = True
    failed = await client.post(orders, json={"phone": "79161112233"}, headers=auth)
    spec.check("POST", orders, failed, 502)
    assert {status for _, path, status in spec.seen if path.startswith("/v1/")} == {
        "200", "400", "403", "404", "422", "429", "502"
    }  # fmt: skip


@pytest.mark.settings(sms_daily_quota=4)  # registration, two binds, a failed one (given back), one more
async def test_seed_002_answers_match_the_document(client, deliveries, execute, spec):
    bind, confirm, unbind = (f"/v1/auth/phone/{name}" for name in ("bind", "confirm", "unbind"))
    token = await signed_up(client, deliveries, PHONE)
    oauth = {"Authorization": f"OAuth {token}"}
    assert spec.check("POST", bind, await client.post(bind, headers=oauth))["isConfirmationRequired"] is False
    assert spec.check("POST", unbind, await client.post(unbind, headers=oauth)) == {}
    assert spec.check("POST", unbind, await client.post(unbind, headers=oauth)) == {"code": "noBoundPhone"}
    assert spec.check("POST", bind, await client.post(bind)) == {"code": "noRights"}

    await execute(update(User).values(phone_verified_at=utcnow() - timedelta(hours=1)))
    sent = spec.check("POST", bind, await client.post(bind, headers={**oauth, "Lang": "en"}))
    assert sent["isConfirmationRequired"] is True
    repeat = await client.post(bind, headers=oauth)
    assert repeat.status_code == 208 and spec.check("POST", bind, repeat) == sent
    code = [m for m in deliveries.to(PHONE) if m.purpose == "phone_bind"][-1].code
    too_short = await client.post(confirm, headers=oauth, json={"code": "12"})
    assert spec.check("POST", confirm, too_short) == {"code": "invalidRequest"}
    for _ in range(5):
        wrong = await client.post(confirm, headers=oauth, json={"code": wrong_code(code)})
        assert spec.check("POST", confirm, wrong) == {"code": "invalidCode"}
    spent = spec.check("POST", confirm, await client.post(confirm, headers=oauth, json={"code": code}))
    assert spent["code"] == "otherActiveRequest"
    assert spec.check("POST", bind, await client.post(bind, headers=oauth))["code"] == "otherActiveRequest"

    await execute(update(Cooldown).values(until=utcnow() - timedelta(seconds=1)))
    spec.check("POST", bind, await client.post(bind, headers=oauth), 200)
    code = [m for m in deliveries.to(PHONE) if m.purpose == "phone_bind"][-1].code
    assert "boundAt" in spec.check("POST", confirm, await client.post(confirm, headers=oauth, json={"code": code}))
    assert spec.check("POST", confirm, await client.post(confirm, headers=oauth, json={"code": code})) == {
        "code": "noActiveRequest"
    }
    spec.check("POST", unbind, await client.post(unbind, headers=oauth), 200)
    await execute(update(Cooldown).values(until=utcnow() - timedelta(seconds=1)))
    deliveries.failing = True
    assert spec.check("POST", bind, await client.post(bind, headers=oauth)) == {"code": "smsSendFailed"}
    deliveries.failing = False
    assert spec.check("POST", bind, await client.post(bind, headers=oauth))["isConfirmationRequired"] is True
    await execute(update(Cooldown).values(until=utcnow() - timedelta(seconds=1)))
    assert spec.check("POST", bind, await client.post(bind, headers=oauth)) == {"code": "smsQuotaExceed"}
    assert {status for _, path, status in spec.seen if path.startswith("/v1/auth/phone")} == {
        "200", "208", "400", "401", "404", "422", "423", "429", "502"
    }  # fmt: skip


async def test_seed_003_answers_match_the_document(app, client, deliveries, spec):
    token, activate_, refresh, auto_call = (
        "/auth/oauth/token",
        "/auth/oauth/activate",
        "/auth/oauth/refresh",
        "/auto_call/{phone}",
    )
    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name="Driver app")
    args = argparse.Namespace(email="foo@wheely.com", password="qwerty123", phone=None, name=None, driver=True)
    await admin.users_create(app.state.db, app.state.services, args)

    by_password = {"app_id": creds.app_id, "email": "foo@wheely.com", "password": "qwerty123"}
    issued = spec.check("POST", token, await client.post(token, json=by_password))
    assert list(issued) == ["token", "user", "driver"]
    pair = {"app_id": creds.app_id, "app_secret": creds.app_secret, "refresh_token": issued["token"]["refresh_token"]}
    assert spec.check("POST", refresh, await client.post(refresh, json=pair))["token"]["activation_needed"] is False
    assert "invalid_refresh_token" in spec.check("POST", refresh, await client.post(refresh, json=pair))["errors"]
    wrong_app = await client.post(refresh, json={**pair, "app_secret": "nope"})
    assert "invalid_app" in spec.check("POST", refresh, wrong_app)["errors"]
    wrong_user = await client.post(token, json={**by_password, "password": "wrong-password"})
    assert "invalid_user" in spec.check("POST", token, wrong_user)["errors"]
    both = await client.post(token, json={**by_password, "phone": PHONE})
    assert "phone" in spec.check("POST", token, both)["errors"]

    phone_token = spec.check(
        "POST", token, await client.post(token, json={"app_id": creds.app_id, "phone": 79161234567})
    )
    assert list(phone_token) == ["token"] and phone_token["token"]["activation_needed"] is True
    limited = await client.post(token, json={"app_id": creds.app_id, "phone": PHONE})
    assert "too_many_requests" in spec.check("POST", token, limited)["errors"]
    assert spec.check("POST", auto_call, await client.post("/auto_call/79161234567")) == {}
    pin = deliveries.last_code(PHONE)
    body = {"token": phone_token["token"]["access_token"], "pin": wrong_code(pin)}
    assert "invalid_pin" in spec.check("PUT", activate_, await client.put(activate_, json=body))["errors"]
    assert "pin" in spec.check("PUT", activate_, await client.put(activate_, json={**body, "pin": "12a4"}))["errors"]
    activated = spec.check("PUT", activate_, await client.put(activate_, json={**body, "pin": int(pin)}))
    assert activated["user"]["phone"] == "79161234567"
    assert "invalid_token" in spec.check("PUT", activate_, await client.put(activate_, json=body))["errors"]
    assert "entity_not_found" in spec.check("POST", auto_call, await client.post("/auto_call/79161234567"))["errors"]
    assert "phone" in spec.check("POST", auto_call, await client.post("/auto_call/12345"))["errors"]

    deliveries.failing = True
    failed = await client.post(token, json={"app_id": creds.app_id, "phone": "+79161234568"})
    assert "delivery_failed" in spec.check("POST", token, failed)["errors"]
    assert {status for _, path, status in spec.seen if not path.startswith(("/v1", "/api"))} == {
        "200", "400", "401", "404", "429", "502"
    }  # fmt: skip


async def test_seed_000_answers_match_the_document(app, client, deliveries, fetch, spec):
    phone, order, active, used = (f"{BASE}/{name}" for name in ("user/phone", "order", "order/active", "order/used"))
    await add_carwash(app)
    token = await signed_up(client, deliveries)
    _, service = await new_service_token(app)
    spec.check("GET", phone, await client.get(phone, headers=user_auth(token)), 200)
    assert spec.check("GET", phone, await client.get(phone))["code"] == "UNAUTHENTICATED"
    assert spec.check("GET", active, await client.get(active, headers=user_auth(token))) is None
    phone_id = await phone_id_of(client, token)
    refused = await client.post(order, json=order_body("999"), headers=user_auth(token))
    assert spec.check("POST", order, refused)["code"] == "INVALID_PHONE_ID"
    bad = await client.post(order, json={"user": {"phone_id": phone_id}}, headers=user_auth(token))
    assert spec.check("POST", order, bad)["code"] == "VALIDATION_FAILED"
    created = await client.post(order, json=order_body(int(phone_id), carwash_id=12345), headers=bearer(token))
    pay_token = spec.check("POST", order, created)["pay_token"]

    [created_order] = await fetch(select(CarwashOrder))
    not_active = await client.post(used, json={"order_id": str(created_order.id)}, headers=bearer(service))
    assert spec.check("POST", used, not_active)["code"] == "INVALID_ORDER_STATUS"
    paid = await pay(app, pay_token)
    assert spec.check("GET", active, await client.get(active, headers=user_auth(token)))["status"] == "Paid"
    await activate(app, paid.id)
    assert spec.check("GET", active, await client.get(active, headers=user_auth(token)))["status"] == "Active"
    as_user = await client.post(used, json={"order_id": paid.id}, headers=bearer(token))
    assert spec.check("POST", used, as_user)["code"] == "UNAUTHENTICATED"
    unknown = await client.post(used, json={"order_id": "424242"}, headers=bearer(service))
    assert spec.check("POST", used, unknown)["code"] == "NOT_FOUND"
    assert spec.check("POST", used, await client.post(used, json={}, headers=bearer(service)))["code"] == (
        "VALIDATION_FAILED"
    )
    assert spec.check("POST", used, await client.post(used, json={"order_id": paid.id}, headers=bearer(service))) == {}
    assert {status for _, path, status in spec.seen if path.startswith("/carwashes")} == {
        "200", "204", "400", "401", "404", "422"
    }  # fmt: skip


# --- request-level answers ---------------------------------------------------------

EVERY_API = [
    ("POST", "/carwashes/1.x/order", "/carwashes/1.x/order", carwash, "create_order"),
    ("POST", "/v1/orders", "/v1/orders", callup, "create_verification"),
    # a GET reads no body, but a declared Content-Length over the limit is refused all the same
    ("GET", f"/v1/auth/{uuid.uuid4()}/1234", "/v1/auth/{order_id}/{code}", callup, "check_verification"),
    ("POST", "/v1/auth/phone/confirm", "/v1/auth/phone/confirm", phone_binding, "confirm_binding"),
    ("POST", "/auto_call/79161234567", "/auto_call/{phone}", oauth_tokens, "request_pin_call"),
    ("POST", "/api/v2/auth/send/otp", "/api/v2/auth/send/otp", otp_auth, "send_otp"),
]


@pytest.mark.parametrize(("method", "url", "path", "module", "resolver"), EVERY_API)
async def test_oversized_bodies_and_unexpected_failures_match_the_document(
    app, client, deliveries, spec, monkeypatch, method, url, path, module, resolver
):
    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name="shop")
    headers = {"content-type": "application/json", "X-Application-Token": creds.app_token}  # CallUp: 403 first
    spec.check(method, path, await client.request(method, url, content=BIG_BODY, headers=headers), 413)

    token = await signed_up(client, deliveries, "+79160000001")
    await add_carwash(app)
    phone_id = await phone_id_of(client, token)
    body = order_body(phone_id) if "carwash" in path else {"phone": "79161234567", "code": "1234"}
    headers = {"X-Application-Token": creds.app_token, "Authorization": f"Bearer {token}"}

    async def broken(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, resolver, broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.request(method, url, json=body, headers=headers)
    spec.check(method, path, response, 500)


# --- the checks can fail -----------------------------------------------------------


async def test_a_wrong_schema_is_caught(client, deliveries, spec):
    send = "/api/v2/auth/send/otp"
    sent = await client.post(send, json={"phone": PHONE})
    refused = await client.post(send, json={"phone": "12345"})
    spec.check("POST", send, sent)
    spec.check("POST", send, refused)

    wrong = copy.deepcopy(spec.document)
    success = wrong["paths"][send]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    success["properties"]["data"]["properties"]["status"] = {"const": "sent_failure"}
    with pytest.raises(jsonschema.ValidationError, match="sent_failure"):
        Spec(wrong).check("POST", send, sent)

    wrong = copy.deepcopy(spec.document)
    del wrong["components"]["schemas"]["PhoneAuthError"]["properties"]["timestamp"]
    with pytest.raises(jsonschema.ValidationError, match="timestamp"):
        Spec(wrong).check("POST", send, refused)

    wrong = copy.deepcopy(spec.document)
    del wrong["paths"][send]["post"]["responses"]["400"]
    with pytest.raises(AssertionError, match="answered 400, undeclared"):
        Spec(wrong).check("POST", send, refused)
