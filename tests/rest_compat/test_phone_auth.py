"""Seed 004 under /api/v2: exact envelopes, codes and error bodies."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlmodel import delete, select

from models import User, VerificationCode
from tests.support import wrong_code

PHONE = "+79161234567"
SEND, LOGIN, REGISTER, REFRESH = (
    "/api/v2/auth/send/otp",
    "/api/v2/auth/login",
    "/api/v2/auth/register",
    "/api/v2/auth/refresh",
)
ERROR_KEYS = {"code", "type", "message", "timestamp", "path"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def send(client, phone=PHONE):
    return await client.post(SEND, json={"phone": phone})


async def registered(client, deliveries, phone=PHONE):
    await send(client, phone)
    response = await client.post(
        REGISTER,
        json={
            "phone": phone,
            "otp": deliveries.last_code(phone),
            "isTermsAccepted": True,
            "isPromoTermsAccepted": False,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def test_send_otp_answers_201_and_delivers_an_sms(client, deliveries):
    response = await send(client)
    assert response.status_code == 201
    body = response.json()
    assert body["data"] == {"status": "sent_success", "target": PHONE}
    assert body["path"] == SEND and body["method"] == "POST" and re.fullmatch(r"\d+ms", body["duration"])
    assert set(body) == {"data", "path", "duration", "method"}
    [message] = deliveries.to(PHONE)
    assert message.type == "otp.sms" and message.purpose == "auth" and message.locale == "en"
    assert re.fullmatch(r"\d{4}", message.code) and message.code in message.text
    assert message.code not in response.text


@pytest.mark.parametrize("phone", ["12345", "", "+1 202 555 0143", "'; DROP TABLE users; --", None, 79161234567])
async def test_send_otp_refuses_bad_phones_with_code_40(client, deliveries, phone):
    response = await send(client, phone)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == 40 and body["type"] == "api_client" and body["path"] == SEND
    assert TIMESTAMP.match(body["timestamp"])
    assert deliveries.messages == []


async def test_kazakh_number_is_outside_the_allowed_countries(client, deliveries):
    response = await send(client, "+77011234567")
    assert response.status_code == 400 and response.json()["code"] == 40
    assert deliveries.messages == []


async def test_resend_within_the_interval_is_429_with_retry_after(client, deliveries):
    assert (await send(client)).status_code == 201
    response = await send(client)
    assert response.status_code == 429
    assert response.json()["code"] == 40 and response.json()["type"] == "api_client"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(deliveries.to(PHONE)) == 1


async def test_failed_delivery_is_500_code_6_without_the_code_and_retry_is_allowed(client, deliveries, fetch):
    deliveries.failing = True
    response = await send(client)
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == 6 and body["type"] == "server"
    assert body["message"] == f"Failed to send otp target= {PHONE}"
    rows = await fetch(select(VerificationCode))
    assert [row.revoked_at is not None for row in rows] == [True]
    deliveries.failing = False
    assert (await send(client)).status_code == 201


async def test_register_then_login_then_refresh(client, deliveries):
    data = await registered(client, deliveries)
    assert data["type"] == "register-success"
    client_obj = data["client"]
    assert list(client_obj) == [
        "clientId",
        "name",
        "inn",
        "email",
        "phone",
        "birthday",
        "clientTypeId",
        "note",
        "isActivated",
        "genderId",
        "correctPhone",
        "refreshToken",
        "isTokeValid",
        "activatedDate",
        "isLk",
        "tag",
        "cards",
    ]
    assert client_obj["phone"] == "79161234567" and client_obj["correctPhone"] == PHONE
    assert client_obj["name"] == "Новый пользователь" and client_obj["isActivated"] == 1
    assert client_obj["isTokeValid"] == "1" and TIMESTAMP.match(client_obj["activatedDate"])
    assert client_obj["refreshToken"] == data["tokens"]["refreshToken"]
    [card] = client_obj["cards"]
    assert card["nomer"] == card["devNomer"] == "79161234567" and card["cardTypeId"] == 2086

    await asyncio.sleep(0)
    await client.post(SEND, json={"phone": PHONE})  # within the resend interval: refused
    login = await client.post(LOGIN, json={"phone": PHONE, "otp": "1234"})
    assert login.status_code == 422  # the registration code was used up


@pytest.mark.settings(otp_resend_seconds=0)
async def test_login_with_an_account_returns_the_longer_client(client, deliveries):
    await registered(client, deliveries)
    await send(client)
    response = await client.post(LOGIN, json={"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["type"] == "login-success"
    client_obj = data["client"]
    for key in ("insDate", "updDate", "tokenId", "avto", "discount", "isActiveLight", "activatedDateLight"):
        assert key in client_obj
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", client_obj["activatedDate"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", client_obj["cards"][0]["dateBegin"])
    assert client_obj["cards"][0]["balance"] == 0


async def test_login_without_account_is_register_required_and_keeps_the_code(client, deliveries):
    await send(client)
    code = deliveries.last_code(PHONE)
    response = await client.post(LOGIN, json={"phone": PHONE, "otp": code})
    assert response.status_code == 200
    assert response.json()["data"] == {"client": None, "tokens": None, "type": "register-required"}
    register = await client.post(
        REGISTER, json={"phone": PHONE, "otp": code, "isTermsAccepted": True, "isPromoTermsAccepted": True}
    )
    assert register.status_code == 201


async def test_wrong_code_is_422_code_5_without_echoing(client, deliveries):
    await send(client)
    code = deliveries.last_code(PHONE)
    response = await client.post(LOGIN, json={"phone": PHONE, "otp": wrong_code(code)})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == 5 and body["type"] == "api_authentication"
    assert body["message"] == f"Client {PHONE} invalid otp code"
    assert code not in response.text


async def test_attempts_are_limited_even_for_the_right_code(client, deliveries):
    await send(client)
    code = deliveries.last_code(PHONE)
    for _ in range(5):
        assert (await client.post(LOGIN, json={"phone": PHONE, "otp": wrong_code(code)})).status_code == 422
    response = await client.post(LOGIN, json={"phone": PHONE, "otp": code})
    assert response.status_code == 422 and response.json()["code"] == 5


async def test_parallel_wrong_guesses_cannot_exceed_the_limit(client, deliveries, fetch):
    await send(client)
    code = deliveries.last_code(PHONE)
    responses = await asyncio.gather(
        *[client.post(LOGIN, json={"phone": PHONE, "otp": wrong_code(code)}) for _ in range(50)]
    )
    assert {r.status_code for r in responses} == {422}
    [row] = await fetch(select(VerificationCode))
    assert row.attempts == 5


async def test_parallel_right_registrations_succeed_once(client, deliveries, fetch):
    await send(client)
    code = deliveries.last_code(PHONE)
    body = {"phone": PHONE, "otp": code, "isTermsAccepted": True, "isPromoTermsAccepted": False}
    responses = await asyncio.gather(*[client.post(REGISTER, json=body) for _ in range(20)])
    assert sorted(r.status_code for r in responses).count(201) == 1
    assert len(await fetch(select(User))) == 1


@pytest.mark.settings(otp_resend_seconds=0)
async def test_register_existing_account_is_409_code_41(client, deliveries):
    await registered(client, deliveries)
    await send(client)
    response = await client.post(
        REGISTER,
        json={
            "phone": PHONE,
            "otp": deliveries.last_code(PHONE),
            "isTermsAccepted": True,
            "isPromoTermsAccepted": False,
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == 41 and response.json()["type"] == "api_client"


@pytest.mark.parametrize(
    "body",
    [
        {"phone": PHONE, "otp": "12a4", "isTermsAccepted": True, "isPromoTermsAccepted": False},
        {"phone": PHONE, "otp": 1234, "isTermsAccepted": "yes", "isPromoTermsAccepted": False},
        {"phone": PHONE, "otp": "1234", "isTermsAccepted": True},
        {"phone": PHONE, "otp": "1234", "isTermsAccepted": False, "isPromoTermsAccepted": False},
        {"phone": PHONE, "otp": "1234", "isTermsAccepted": True, "isPromoTermsAccepted": False, "name": "Ivan\u0000"},
        ["not", "an", "object"],
    ],
)
async def test_register_validation_is_400_code_40(client, body):
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 40 and response.json()["path"] == REGISTER


async def test_refresh_rotates_and_a_reused_token_ends_the_session(client, deliveries):
    data = await registered(client, deliveries)
    first = data["tokens"]["refreshToken"]
    response = await client.get(REFRESH, params={"refreshToken": first})
    assert response.status_code == 200
    body = response.json()
    assert set(body["data"]) == {"accessToken", "refreshToken"} and body["method"] == "GET"
    second = body["data"]["refreshToken"]
    assert second != first
    reused = await client.get(REFRESH, params={"refreshToken": first})
    assert reused.status_code == 401 and reused.json()["code"] == 5
    assert reused.json()["type"] == "api_authentication"
    # the whole family is gone: the newer token no longer works either
    assert (await client.request("GET", REFRESH, json={"refreshToken": second})).status_code == 401


async def test_a_forged_secret_for_a_used_tokens_id_does_not_end_the_session(client, deliveries):
    # a refresh token names its row (`<id>.<secret>`): anyone can guess ids, so only the
    # right secret may count as presenting the token again
    data = await registered(client, deliveries)
    first = data["tokens"]["refreshToken"]
    token_id, secret = first.split(".", 1)
    second = (await client.get(REFRESH, params={"refreshToken": first})).json()["data"]["refreshToken"]
    forged = f"{token_id}.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    response = await client.get(REFRESH, params={"refreshToken": forged})
    assert response.status_code == 401 and response.json()["code"] == 5
    renewed = await client.get(REFRESH, params={"refreshToken": second})
    assert renewed.status_code == 200, renewed.text


@pytest.mark.parametrize(
    "token",
    ["plain", ".secret", "1.", "-1.x", "１２.x", "1" * 19 + ".x", "9" * 18 + ".x", "2147483648.x", "1.x" * 200, "0.x"],
)
async def test_malformed_refresh_tokens_are_401_code_5(client, deliveries, token):
    await registered(client, deliveries)
    response = await client.get(REFRESH, params={"refreshToken": token})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 5 and response.json()["type"] == "api_authentication"


async def test_a_head_request_does_not_rotate_the_refresh_token(client, deliveries):
    data = await registered(client, deliveries)
    token = data["tokens"]["refreshToken"]
    head = await client.head(REFRESH, params={"refreshToken": token})
    assert head.status_code == 405 and head.headers["allow"] == "GET"
    response = await client.get(REFRESH, params={"refreshToken": token})
    assert response.status_code == 200 and response.json()["data"]["refreshToken"] != token


async def test_refresh_without_token_is_400_code_40(client):
    response = await client.get(REFRESH)
    assert response.status_code == 400 and response.json()["code"] == 40


async def test_refresh_of_a_deleted_account_is_404_code_4(client, deliveries, execute):
    data = await registered(client, deliveries)
    await execute(delete(User))
    for _ in range(2):  # a retry (say, after a network blip) still learns the account is gone
        response = await client.get(REFRESH, params={"refreshToken": data["tokens"]["refreshToken"]})
        assert response.status_code == 404
        assert response.json()["code"] == 4 and response.json()["type"] == "api_not_found"


async def test_spent_attempts_answer_the_wrong_code_message_with_the_phone(client, deliveries, services):
    await send(client)
    wrong = wrong_code(deliveries.last_code(PHONE))
    for _ in range(services.settings.otp_max_attempts):
        assert (await client.post(LOGIN, json={"phone": PHONE, "otp": wrong})).status_code == 422
    for otp in (wrong, deliveries.last_code(PHONE)):
        response = await client.post(LOGIN, json={"phone": PHONE, "otp": otp})
        assert response.status_code == 422
        body = response.json()
        assert (body["code"], body["type"]) == (5, "api_authentication")
        assert body["message"] == f"Client {PHONE} invalid otp code"
        assert "retry-after" not in response.headers  # a wrong-code answer, not a limit's refusal


async def test_request_level_errors_keep_the_shape(client):
    for method, path, status in (
        ("POST", "/api/v2/nowhere", 404),
        ("POST", SEND + "/", 404),  # a stray slash is an unknown path, not a redirect
        ("GET", "/api/v2", 404),
        ("GET", LOGIN, 405),
        ("DELETE", SEND, 405),
    ):
        response = await client.request(method, path)
        assert response.status_code == status
        body = response.json()
        assert set(body) == ERROR_KEYS and body["code"] == 40 and body["path"] == path
    big = await client.post(LOGIN, content=b"{" + b" " * 1_100_000 + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json()["code"] == 40


async def test_messages_follow_accept_language(client, deliveries):
    await send(client)
    response = await client.post(
        LOGIN, json={"phone": PHONE, "otp": wrong_code(deliveries.last_code(PHONE))}, headers={"Accept-Language": "ru"}
    )
    assert response.json()["message"] == f"Клиент {PHONE}: неверный код"
