"""Seed 001 (CallUp) under /v1: three order schemes, code checks, envelopes and every error."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select, update

from core.clock import utcnow
from models import CallupOrder, VerificationCode
from resolvers import apps
from tests.support import wrong_code

ORDERS = "/v1/orders"
PHONE, E164 = "79161234567", "+79161234567"
OTHER_PHONE = "79161234568"
PREFIX = "7487260"
TEST_PHONE = "79990000001"


async def new_app(app, *, name="shop", blocked=False):
    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name=name)
        if blocked:
            await apps.block_app(session, app_id=creds.app_id)
    return creds


@pytest.fixture
async def creds(app):
    return await new_app(app)


def auth(token):
    return {"X-Application-Token": token}


async def order(client, token, phone=PHONE, *, code=None, params=None, headers=None):
    body = {"phone": phone} if code is None else {"phone": phone, "code": code}
    return await client.post(ORDERS, json=body, params=params, headers={**auth(token), **(headers or {})})


async def placed(client, token, phone=PHONE, **kwargs):
    response = await order(client, token, phone, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def check(client, token, order_id, code, headers=None):
    request_headers = {} if token is None else auth(token)
    return await client.get(f"/v1/auth/{order_id}/{code}", headers={**request_headers, **(headers or {})})


def failure(message):
    return {"data": None, "errors": [{"message": message}]}


SUCCESS = {"data": {"success": True}, "errors": None}


async def code_row(fetch, order_id):
    [row] = await fetch(select(VerificationCode).where(VerificationCode.subject == order_id))
    return row


# --- the three schemes -------------------------------------------------------------


async def test_standard_scheme_places_a_flash_call_and_hides_the_code(client, creds, deliveries, fetch):
    response = await order(client, creds.app_token)
    assert response.status_code == 200
    body = response.json()
    data = body["data"]
    assert body["errors"] is None and set(body) == {"data", "errors"}
    assert uuid.UUID(data["id"]).version == 4
    assert data == {"id": data["id"], "cid": {"prefix": PREFIX, "mask": PREFIX + "****"}, "code": {"len": 4}}
    [message] = deliveries.messages
    assert message.type == "otp.flash_call" and message.channel == "flash_call"
    assert message.phone == E164 and message.purpose == "app_verification" and message.locale == "en"
    assert message.caller_id == PREFIX + message.code and len(message.code) == 4 and message.code.isdigit()
    assert message.caller_id in message.text
    assert message.code not in response.text.replace(data["id"], "")
    [row] = await fetch(select(CallupOrder))
    assert row.id == data["id"] and row.app_id == creds.app_id and row.phone == E164

    assert (await check(client, creds.app_token, data["id"], message.code)).json() == SUCCESS


async def test_fields_code_value_returns_the_code(client, creds, deliveries):
    response = await order(client, creds.app_token, params={"fields": "code.value"})
    assert response.status_code == 200
    data = response.json()["data"]
    code = deliveries.last_code(E164)
    assert data["code"] == {"len": 4, "value": code}
    assert deliveries.messages[-1].caller_id == PREFIX + code
    response = await check(client, creds.app_token, data["id"], code)
    assert response.status_code == 200 and response.json() == SUCCESS


async def test_caller_chosen_code_is_the_one_called_and_returned(client, creds, deliveries):
    data = await placed(client, creds.app_token, code="0345")
    assert data["code"] == {"len": 4, "value": "0345"}
    assert data["cid"] == {"prefix": PREFIX, "mask": PREFIX + "****"}
    [message] = deliveries.messages
    assert message.code == "0345" and message.caller_id == "74872600345"
    assert (await check(client, creds.app_token, data["id"], "0345")).json() == SUCCESS


@pytest.mark.settings(otp_length=6)
async def test_the_code_length_follows_the_setting(client, creds, deliveries):
    data = await placed(client, creds.app_token)
    assert data["code"] == {"len": 6} and data["cid"]["mask"] == PREFIX + "******"
    assert len(deliveries.last_code(E164)) == 6
    assert (await order(client, creds.app_token, OTHER_PHONE, code="1234")).status_code == 400


@pytest.mark.parametrize("code", ["12a4", "123", "12345", "", " 123", "１２３４", 1234, True, ["1234"]])
async def test_a_chosen_code_that_is_not_four_digits_is_400_and_sends_nothing(client, creds, deliveries, fetch, code):
    response = await order(client, creds.app_token, code=code)
    assert response.status_code == 400
    assert response.json() == failure("The code must be 4 digits")
    assert deliveries.messages == [] and await fetch(select(CallupOrder)) == []


@pytest.mark.parametrize(
    "phone", ["+79161234567", 79161234567, "7916123456", "791612345678", "7916123456a", "77011234567", "", None]
)
async def test_bad_phones_are_400(client, creds, deliveries, fetch, phone):
    response = await client.post(ORDERS, json={"phone": phone}, headers=auth(creds.app_token))
    assert response.status_code == 400
    assert response.json()["data"] is None and len(response.json()["errors"]) == 1
    assert deliveries.messages == [] and await fetch(select(CallupOrder)) == []


async def test_phone_messages(client, creds):
    response = await client.post(ORDERS, json={"phone": "+79161234567"}, headers=auth(creds.app_token))
    assert response.json() == failure("Phone must be a string of 11 digits")
    response = await order(client, creds.app_token, "77011234567")  # Kazakhstan
    assert response.json() == failure("Codes cannot be sent to this country")


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'"79161234567"', b"null"])
async def test_a_body_that_is_not_a_json_object_is_400(client, creds, deliveries, content):
    response = await client.post(
        ORDERS, content=content, headers={**auth(creds.app_token), "content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json() == failure("Invalid JSON")
    assert deliveries.messages == []


# --- credentials: 403 first --------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", str(uuid.uuid4()), "not-a-uuid", "x" * 500])
async def test_missing_or_unknown_token_is_403_before_anything_else(client, creds, deliveries, fetch, token):
    headers = {} if token is None else auth(token)
    response = await client.post(ORDERS, json={"phone": PHONE}, headers=headers)
    assert response.status_code == 403 and response.json() == failure("access denied")
    bad_json = await client.post(ORDERS, content=b"{", headers={**headers, "content-type": "application/json"})
    assert bad_json.status_code == 403 and bad_json.json() == failure("access denied")
    bad_phone = await client.post(ORDERS, json={"phone": "1", "code": "x"}, headers=headers)
    assert bad_phone.status_code == 403
    assert (await check(client, token, "nonsense", "12")).json() == failure("access denied")
    assert (await check(client, token, uuid.uuid4(), "1234")).status_code == 403
    assert deliveries.messages == [] and await fetch(select(CallupOrder)) == []


async def test_a_blocked_app_is_403_on_orders_and_checks(client, app, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    async with app.state.db.session() as session:
        assert await apps.block_app(session, app_id=creds.app_id)
    response = await order(client, creds.app_token, OTHER_PHONE)
    assert response.status_code == 403 and response.json() == failure("access denied")
    response = await check(client, creds.app_token, data["id"], code)
    assert response.status_code == 403 and response.json() == failure("access denied")
    assert len(deliveries.messages) == 1
    assert (await code_row(fetch, data["id"])).attempts == 0


async def test_an_app_blocked_before_its_first_call_is_403(client, app, deliveries):
    blocked = await new_app(app, name="blocked", blocked=True)
    response = await order(client, blocked.app_token)
    assert response.status_code == 403 and response.json() == failure("access denied")
    assert deliveries.messages == []


# --- not found: unknown, malformed and other apps' orders --------------------------


@pytest.mark.parametrize(
    "order_id", [str(uuid.uuid4()), "not-a-uuid", "1", "6999f209-5bb6-4581-9f91", "%27%20OR%201=1"]
)
async def test_unknown_or_malformed_order_is_404(client, creds, order_id):
    response = await check(client, creds.app_token, order_id, "1234")
    assert response.status_code == 404 and response.json() == failure("order not found")


async def test_another_apps_order_is_404_and_costs_nothing(client, app, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    other = await new_app(app, name="other")
    for guess in (code, wrong_code(code), "abc"):
        response = await check(client, other.app_token, data["id"], guess)
        assert response.status_code == 404 and response.json() == failure("order not found")
    assert (await code_row(fetch, data["id"])).attempts == 0
    assert (await check(client, creds.app_token, data["id"], code)).json() == SUCCESS


async def test_the_uppercase_form_of_an_order_id_is_the_same_order(client, creds, deliveries):
    data = await placed(client, creds.app_token)
    response = await check(client, creds.app_token, data["id"].upper(), deliveries.last_code(E164))
    assert response.json() == SUCCESS


async def test_the_app_token_may_be_sent_in_any_uuid_spelling(client, creds, deliveries):
    data = await placed(client, creds.app_token.upper())
    response = await check(client, "{" + creds.app_token.replace("-", "") + "}", data["id"], deliveries.last_code(E164))
    assert response.json() == SUCCESS


async def test_a_head_request_does_not_spend_the_code(client, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    head = await client.head(f"/v1/auth/{data['id']}/{code}", headers=auth(creds.app_token))
    assert head.status_code == 405 and head.headers["allow"] == "GET"
    assert (await code_row(fetch, data["id"])).used_at is None
    assert (await check(client, creds.app_token, data["id"], code)).json() == SUCCESS


# --- checking codes ----------------------------------------------------------------


@pytest.mark.parametrize("code", ["12a4", "123", "12345", "%20%20%20%20", "%EF%BC%91234"])
async def test_a_malformed_code_is_400_and_costs_no_attempt(client, creds, deliveries, fetch, code):
    data = await placed(client, creds.app_token)
    response = await check(client, creds.app_token, data["id"], code)
    assert response.status_code == 400 and response.json() == failure("The code must be 4 digits")
    assert (await code_row(fetch, data["id"])).attempts == 0


async def test_a_wrong_code_is_422_and_counts_an_attempt(client, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    response = await check(client, creds.app_token, data["id"], wrong_code(code))
    assert response.status_code == 422 and response.json() == failure("The code is incorrect")
    assert (await code_row(fetch, data["id"])).attempts == 1
    assert (await check(client, creds.app_token, data["id"], code)).json() == SUCCESS


async def test_a_verified_order_cannot_be_verified_again(client, creds, deliveries):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    assert (await check(client, creds.app_token, data["id"], code)).json() == SUCCESS
    again = await check(client, creds.app_token, data["id"], code)
    assert again.status_code == 422 and again.json() == failure("This order is already verified")


async def test_spent_attempts_refuse_even_the_right_code(client, creds, deliveries):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    for _ in range(5):
        assert (await check(client, creds.app_token, data["id"], wrong_code(code))).status_code == 422
    response = await check(client, creds.app_token, data["id"], code)
    assert response.status_code == 422 and response.json() == failure("Too many wrong codes, request a new one")
    assert "Retry-After" not in response.headers


async def test_exhaustive_guessing_never_succeeds_once_attempts_are_spent(client, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    spent = [guess for guess in (f"{n:04d}" for n in range(10)) if guess != code][:5]
    for guess in spent:
        assert (await check(client, creds.app_token, data["id"], guess)).status_code == 422
    statuses: list[int] = []
    guesses = [f"{n:04d}" for n in range(10_000)]
    for start in range(0, len(guesses), 500):
        batch = guesses[start : start + 500]
        responses = await asyncio.gather(*(check(client, creds.app_token, data["id"], guess) for guess in batch))
        statuses.extend(response.status_code for response in responses)
    assert len(statuses) == 10_000 and set(statuses) == {422}
    row = await code_row(fetch, data["id"])
    assert row.attempts == 5 and row.used_at is None


async def test_parallel_right_guesses_succeed_once(client, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    responses = await asyncio.gather(*(check(client, creds.app_token, data["id"], code) for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] + [422] * 19
    assert (await code_row(fetch, data["id"])).used_at is not None


async def test_parallel_wrong_guesses_cannot_pass_the_attempt_limit(client, creds, deliveries, fetch):
    data = await placed(client, creds.app_token)
    code = deliveries.last_code(E164)
    responses = await asyncio.gather(*(check(client, creds.app_token, data["id"], wrong_code(code)) for _ in range(50)))
    assert {r.status_code for r in responses} == {422}
    assert (await code_row(fetch, data["id"])).attempts == 5
    assert (await check(client, creds.app_token, data["id"], code)).status_code == 422


async def test_an_expired_code_is_422(client, creds, deliveries, execute):
    data = await placed(client, creds.app_token)
    await execute(
        update(VerificationCode)
        .where(VerificationCode.subject == data["id"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    response = await check(client, creds.app_token, data["id"], deliveries.last_code(E164))
    assert response.status_code == 422 and response.json() == failure("The code has expired")


# --- delivery and limits -----------------------------------------------------------


async def test_a_failed_call_is_502_and_leaves_no_order(client, creds, deliveries, fetch):
    deliveries.failing = True
    response = await order(client, creds.app_token, params={"fields": "code.value"})
    assert response.status_code == 502
    assert response.json() == failure("The code could not be delivered, try again")
    assert await fetch(select(CallupOrder)) == []
    assert [row.revoked_at is not None for row in await fetch(select(VerificationCode))] == [True]
    deliveries.failing = False
    data = await placed(client, creds.app_token)  # the phone's resend interval was given back
    assert (await check(client, creds.app_token, data["id"], deliveries.last_code(E164))).json() == SUCCESS


async def test_one_phone_gets_one_call_per_resend_interval_whichever_app_asks(client, app, creds, deliveries):
    await placed(client, creds.app_token)
    other = await new_app(app, name="other")
    response = await order(client, other.app_token)
    assert response.status_code == 429
    assert response.json() == failure("A new code can be requested later")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(deliveries.messages) == 1
    assert (await order(client, other.app_token, OTHER_PHONE)).status_code == 200


@pytest.mark.settings(app_sends_per_hour=2, otp_resend_seconds=0)
async def test_per_app_hourly_cap(client, app, creds, deliveries, fetch):
    await placed(client, creds.app_token)
    await placed(client, creds.app_token)
    response = await order(client, creds.app_token)
    assert response.status_code == 429
    assert response.json() == failure("Too many requests, try again later")
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert len(deliveries.messages) == 2 and len(await fetch(select(CallupOrder))) == 2
    other = await new_app(app, name="other")
    assert (await order(client, other.app_token)).status_code == 200


@pytest.mark.settings(test_phones=["+79990000001=1234"])
async def test_a_test_phone_gets_its_fixed_code_no_call_and_single_use(client, creds, deliveries):
    data = await placed(client, creds.app_token, TEST_PHONE, params={"fields": "code.value"})
    assert data["code"] == {"len": 4, "value": "1234"}
    assert deliveries.messages == []
    assert (await check(client, creds.app_token, data["id"], "1234")).json() == SUCCESS
    assert (await check(client, creds.app_token, data["id"], "1234")).status_code == 422


@pytest.mark.settings(test_phones=["+79990000001=1234"], otp_resend_seconds=0)
async def test_a_test_phone_keeps_a_caller_chosen_code(client, creds, deliveries):
    data = await placed(client, creds.app_token, TEST_PHONE, code="5678")
    assert data["code"] == {"len": 4, "value": "5678"}
    assert deliveries.messages == []
    assert (await check(client, creds.app_token, data["id"], "5678")).json() == SUCCESS


@pytest.mark.settings(test_phones=["+79990000001=1234"])
async def test_a_test_phones_order_with_spent_attempts_refuses_its_fixed_code(client, creds):
    data = await placed(client, creds.app_token, TEST_PHONE)
    for _ in range(5):
        assert (await check(client, creds.app_token, data["id"], "0000")).status_code == 422
    assert (await check(client, creds.app_token, data["id"], "1234")).status_code == 422


# --- request-level errors and language ---------------------------------------------


async def test_request_level_errors_keep_the_envelope(client, creds):
    for method, path, status, message in (
        ("GET", ORDERS, 405, "method not allowed"),
        ("POST", "/v1/auth/x/1234", 405, "method not allowed"),
        ("GET", "/v1/nowhere", 404, "not found"),
        ("GET", "/v1/auth/only-an-id", 404, "not found"),
    ):
        response = await client.request(method, path, headers=auth(creds.app_token))
        assert response.status_code == status, path
        assert response.json() == failure(message)
    big = await client.post(
        ORDERS,
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={**auth(creds.app_token), "content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json() == failure("payload too large")


@pytest.mark.parametrize("token", [None, str(uuid.uuid4())])
async def test_a_bad_token_is_403_before_request_level_errors(client, token, deliveries):
    headers = {} if token is None else auth(token)
    for method, path in (
        ("GET", ORDERS),
        ("PUT", ORDERS),
        ("POST", "/v1/auth/x/1234"),
        ("HEAD", f"/v1/auth/{uuid.uuid4()}/1234"),
        ("GET", "/v1/nowhere"),
        ("GET", "/v1/auth/only-an-id"),
        ("GET", "/v1/orders/"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 403, (method, path)
        assert "allow" not in response.headers
        if method != "HEAD":
            assert response.json() == failure("access denied")
    big = await client.post(
        ORDERS, content=b"{" + b" " * 1_100_000 + b"}", headers={**headers, "content-type": "application/json"}
    )
    assert big.status_code == 403 and big.json() == failure("access denied")
    assert deliveries.messages == []


async def test_an_unexpected_failure_is_500_internal_error(app, creds, monkeypatch):
    from resolvers import callup

    async def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(callup, "check_verification", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await check(http, creds.app_token, uuid.uuid4(), "1234")
    assert response.status_code == 500 and response.json() == failure("internal error")


async def test_messages_follow_accept_language(client, creds, deliveries):
    ru = {"Accept-Language": "ru"}
    response = await client.post(ORDERS, json={"phone": PHONE}, headers=ru)
    assert response.json() == failure("доступ запрещён")
    response = await check(client, creds.app_token, uuid.uuid4(), "1234", headers=ru)
    assert response.json() == failure("заказ не найден")
    data = await placed(client, creds.app_token, headers=ru)
    assert deliveries.messages[-1].locale == "ru"
    assert (
        deliveries.messages[-1].text
        == f"Ваш код — последние цифры номера, с которого поступит звонок: {deliveries.messages[-1].caller_id}"
    )
    code = deliveries.last_code(E164)
    response = await check(client, creds.app_token, data["id"], wrong_code(code), headers=ru)
    assert response.json() == failure("Неверный код")
    response = await check(client, creds.app_token, data["id"], "12", headers=ru)
    assert response.json() == failure("Код должен состоять из 4 цифр")
    response = await client.get("/v1/nowhere", headers={**ru, **auth(creds.app_token)})
    assert response.json() == failure("не найдено")
    response = await client.get(ORDERS, headers={"Accept-Language": "en-US,en;q=0.9", **auth(creds.app_token)})
    assert response.json() == failure("method not allowed")
