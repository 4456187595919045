"""Seed 002 at /v1/auth/phone: bind, confirm, unbind with the seed's statuses and bodies."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select, update

from core.clock import utcnow
from models import AuthSession, Cooldown, Phone, User, VerificationCode
from tests.support import gql, wrong_code

PHONE, NEW_PHONE = "+79161234567", "+79161234568"
BIND, CONFIRM, UNBIND = "/v1/auth/phone/bind", "/v1/auth/phone/confirm", "/v1/auth/phone/unbind"
SEND, REGISTER = "/api/v2/auth/send/otp", "/api/v2/auth/register"
SEED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")

CHANGE_PHONE = """
mutation ChangePhone($input: ChangePhoneInput!) {
  changePhone(input: $input) { __typename ... on Error { code } }
}
"""


def seed_time(value: str) -> datetime:
    assert SEED_TIME.match(value), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def oauth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}", **extra}


async def register(client, deliveries, phone=PHONE) -> str:
    """A new account for `phone` (verified just now); its access token."""
    assert (await client.post(SEND, json={"phone": phone})).status_code == 201
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
    return response.json()["data"]["tokens"]["accessToken"]


async def age_phone(execute, phone=PHONE) -> None:
    """Make the passport phone's verification an hour old (no longer recent)."""
    await execute(update(User).where(col(User.phone) == phone).values(phone_verified_at=utcnow() - timedelta(hours=1)))


def bind_messages(deliveries, phone=PHONE):
    return [m for m in deliveries.to(phone) if m.purpose == "phone_bind"]


async def bound_numbers(fetch) -> list[str]:
    return [row.number for row in await fetch(select(Phone).where(col(Phone.bound_at).is_not(None)))]


@pytest.fixture
async def token(client, deliveries) -> str:
    return await register(client, deliveries)


@pytest.fixture
async def old_token(token, execute) -> str:
    """A user whose passport phone was verified an hour ago: binding needs an SMS."""
    await age_phone(execute)
    return token


async def test_recently_verified_phone_is_bound_at_once_without_sms(client, deliveries, fetch, token):
    before = utcnow()
    response = await client.post(BIND, headers=oauth(token))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["isConfirmationRequired", "nextCodeAvailableAt"]
    assert body["isConfirmationRequired"] is False
    assert before - timedelta(seconds=1) <= seed_time(body["nextCodeAvailableAt"]) <= utcnow()
    assert bind_messages(deliveries) == []
    assert await bound_numbers(fetch) == [PHONE]


async def test_binding_a_bound_phone_answers_200_false(client, deliveries, fetch, old_token, execute):
    await execute(update(User).values(phone_verified_at=utcnow()))
    assert (await client.post(BIND, headers=oauth(old_token))).status_code == 200
    await age_phone(execute)
    response = await client.post(BIND, headers=oauth(old_token))
    assert response.status_code == 200
    assert response.json()["isConfirmationRequired"] is False
    assert bind_messages(deliveries) == []
    assert await bound_numbers(fetch) == [PHONE]


async def test_old_phone_gets_an_sms_then_208_then_confirm_binds_it(client, deliveries, fetch, old_token):
    before = utcnow()
    first = await client.post(BIND, headers=oauth(old_token))
    assert first.status_code == 200
    assert first.json()["isConfirmationRequired"] is True
    next_at = seed_time(first.json()["nextCodeAvailableAt"])
    assert before + timedelta(seconds=59) <= next_at <= utcnow() + timedelta(seconds=60)
    [message] = bind_messages(deliveries)
    assert message.type == "otp.sms" and message.locale == "ru"
    assert message.text == f"Ваш код washgate: {message.code}"
    assert message.code not in first.text
    assert await bound_numbers(fetch) == []

    repeat = await client.post(BIND, headers=oauth(old_token))
    assert repeat.status_code == 208
    assert repeat.json() == first.json()
    assert len(bind_messages(deliveries)) == 1

    confirmed = await client.post(CONFIRM, headers=oauth(old_token), json={"code": message.code})
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert list(body) == ["boundAt"]
    [row] = await fetch(select(Phone).where(col(Phone.bound_at).is_not(None)))
    assert row.number == PHONE
    assert seed_time(body["boundAt"]) == row.bound_at.replace(microsecond=row.bound_at.microsecond // 1000 * 1000)

    again = await client.post(BIND, headers=oauth(old_token))
    assert again.status_code == 200 and again.json()["isConfirmationRequired"] is False
    assert (await client.post(CONFIRM, headers=oauth(old_token), json={"code": message.code})).status_code == 404


async def test_bearer_scheme_works_too(client, token):
    assert (await client.post(BIND, headers={"Authorization": f"Bearer {token}"})).status_code == 200


async def test_wrong_codes_until_429_then_a_new_code_after_the_interval(client, deliveries, execute, old_token):
    first = await client.post(BIND, headers=oauth(old_token))
    next_at = first.json()["nextCodeAvailableAt"]
    code = bind_messages(deliveries)[-1].code
    for _ in range(5):
        wrong = await client.post(CONFIRM, headers=oauth(old_token), json={"code": wrong_code(code)})
        assert wrong.status_code == 422
        assert wrong.json() == {"code": "invalidCode"}

    spent = await client.post(CONFIRM, headers=oauth(old_token), json={"code": code})
    assert spent.status_code == 429
    assert spent.json() == {"code": "otherActiveRequest", "nextCodeAvailableAt": next_at}
    assert 1 <= int(spent.headers["Retry-After"]) <= 60

    repeat = await client.post(BIND, headers=oauth(old_token))
    assert repeat.status_code == 429
    assert repeat.json() == {"code": "otherActiveRequest", "nextCodeAvailableAt": next_at}
    assert 1 <= int(repeat.headers["Retry-After"]) <= 60
    assert len(bind_messages(deliveries)) == 1

    await execute(update(Cooldown).values(until=utcnow() - timedelta(seconds=1)))
    fresh = await client.post(BIND, headers=oauth(old_token))
    assert fresh.status_code == 200 and fresh.json()["isConfirmationRequired"] is True
    assert len(bind_messages(deliveries)) == 2
    confirmed = await client.post(CONFIRM, headers=oauth(old_token), json={"code": bind_messages(deliveries)[-1].code})
    assert confirmed.status_code == 200


@pytest.mark.settings(sms_daily_quota=3, otp_resend_seconds=0)
async def test_daily_quota_answers_423_and_keeps_the_last_code(client, deliveries, fetch, old_token):
    # Registration used one SMS of this phone's quota of three.
    for _ in range(2):
        response = await client.post(BIND, headers=oauth(old_token))
        assert response.status_code == 200 and response.json()["isConfirmationRequired"] is True
    refused = await client.post(BIND, headers=oauth(old_token))
    assert refused.status_code == 423
    assert refused.json() == {"code": "smsQuotaExceed"}
    assert len(bind_messages(deliveries)) == 2
    confirmed = await client.post(CONFIRM, headers=oauth(old_token), json={"code": bind_messages(deliveries)[-1].code})
    assert confirmed.status_code == 200
    assert await bound_numbers(fetch) == [PHONE]


async def test_change_phone_after_binding_needs_unbind_then_binds_the_new_phone_at_once(
    client, deliveries, fetch, token
):
    assert (await client.post(BIND, headers=oauth(token))).status_code == 200
    assert (await client.post(SEND, json={"phone": NEW_PHONE})).status_code == 201
    changed = await gql(
        client, CHANGE_PHONE, {"input": {"phone": NEW_PHONE, "otp": deliveries.last_code(NEW_PHONE)}}, token=token
    )
    assert changed["data"]["changePhone"]["__typename"] == "AccountPhoneChanged"

    refused = await client.post(BIND, headers=oauth(token))
    assert refused.status_code == 401
    assert refused.json() == {"code": "phoneChanged"}
    assert await bound_numbers(fetch) == [PHONE]

    unbound = await client.post(UNBIND, headers=oauth(token))
    assert unbound.status_code == 200 and unbound.json() == {}
    assert await bound_numbers(fetch) == []

    rebound = await client.post(BIND, headers=oauth(token))
    assert rebound.status_code == 200 and rebound.json()["isConfirmationRequired"] is False
    assert await bound_numbers(fetch) == [NEW_PHONE]
    assert bind_messages(deliveries, NEW_PHONE) == []


async def test_after_a_change_an_old_verification_sends_the_sms_to_the_new_phone(
    client, deliveries, fetch, execute, token
):
    assert (await client.post(BIND, headers=oauth(token))).status_code == 200
    await client.post(SEND, json={"phone": NEW_PHONE})
    await gql(
        client, CHANGE_PHONE, {"input": {"phone": NEW_PHONE, "otp": deliveries.last_code(NEW_PHONE)}}, token=token
    )
    assert (await client.post(UNBIND, headers=oauth(token))).status_code == 200
    await age_phone(execute, NEW_PHONE)

    response = await client.post(BIND, headers=oauth(token))
    assert response.status_code == 200 and response.json()["isConfirmationRequired"] is True
    assert bind_messages(deliveries, PHONE) == []
    [message] = bind_messages(deliveries, NEW_PHONE)
    confirmed = await client.post(CONFIRM, headers=oauth(token), json={"code": message.code})
    assert confirmed.status_code == 200
    assert await bound_numbers(fetch) == [NEW_PHONE]


async def test_a_binding_made_before_a_phone_change_refuses_confirm_too(client, deliveries, fetch, execute, old_token):
    await client.post(BIND, headers=oauth(old_token))
    code = bind_messages(deliveries)[-1].code
    await execute(update(Phone).values(bound_at=utcnow()))
    await execute(update(User).values(phone=NEW_PHONE))
    response = await client.post(CONFIRM, headers=oauth(old_token), json={"code": code})
    assert response.status_code == 401 and response.json() == {"code": "phoneChanged"}


async def test_unbind_with_nothing_bound_is_401_no_bound_phone(client, token, fetch):
    response = await client.post(UNBIND, headers=oauth(token))
    assert response.status_code == 401
    assert response.json() == {"code": "noBoundPhone"}
    assert await bound_numbers(fetch) == []


async def test_unbind_then_bind_again(client, token, fetch):
    await client.post(BIND, headers=oauth(token))
    assert (await client.post(UNBIND, headers=oauth(token))).json() == {}
    assert (await client.post(UNBIND, headers=oauth(token))).status_code == 401
    assert (await client.post(BIND, headers=oauth(token))).status_code == 200
    assert await bound_numbers(fetch) == [PHONE]


async def test_no_passport_phone_is_401_no_bound_phone(client, deliveries, execute, token):
    await execute(update(User).values(phone=None, phone_verified_at=None))
    response = await client.post(BIND, headers=oauth(token))
    assert response.status_code == 401
    assert response.json() == {"code": "noBoundPhone"}
    confirm = await client.post(CONFIRM, headers=oauth(token), json={"code": "1234"})
    assert confirm.status_code == 404 and confirm.json() == {"code": "noActiveRequest"}


@pytest.mark.parametrize("path", [BIND, CONFIRM, UNBIND])
@pytest.mark.parametrize(
    "authorization", [None, "OAuth", "OAuth not-a-token", "Basic dXNlcjpwYXNz", "OAuth eyJhbGciOiJIUzI1NiJ9.e30.x"]
)
async def test_bad_or_missing_token_is_401_no_rights(client, deliveries, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post(path, headers=headers, json={"code": "1234"})
    assert response.status_code == 401
    assert response.json() == {"code": "noRights"}


async def test_a_logged_out_token_is_401_no_rights(client, deliveries, execute, fetch, old_token):
    await execute(update(AuthSession).values(revoked_at=utcnow()))
    response = await client.post(BIND, headers=oauth(old_token))
    assert response.status_code == 401 and response.json() == {"code": "noRights"}
    assert bind_messages(deliveries) == []
    assert await fetch(select(VerificationCode).where(VerificationCode.purpose == "phone_bind")) == []


async def test_confirm_with_nothing_pending_is_404(client, old_token):
    response = await client.post(CONFIRM, headers=oauth(old_token), json={"code": "1234"})
    assert response.status_code == 404
    assert response.json() == {"code": "noActiveRequest"}


async def test_confirm_with_the_used_code_again_is_404(client, deliveries, old_token):
    await client.post(BIND, headers=oauth(old_token))
    code = bind_messages(deliveries)[-1].code
    assert (await client.post(CONFIRM, headers=oauth(old_token), json={"code": code})).status_code == 200
    response = await client.post(CONFIRM, headers=oauth(old_token), json={"code": code})
    assert response.status_code == 404 and response.json() == {"code": "noActiveRequest"}


async def test_confirm_after_the_code_expired_is_404(client, deliveries, execute, old_token):
    await client.post(BIND, headers=oauth(old_token))
    await execute(update(VerificationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await client.post(CONFIRM, headers=oauth(old_token), json={"code": bind_messages(deliveries)[-1].code})
    assert response.status_code == 404 and response.json() == {"code": "noActiveRequest"}


@pytest.mark.parametrize(
    "body", [{"code": "12"}, {"code": "12345"}, {"code": "12a4"}, {"code": True}, {"code": None}, {}, [1]]
)
async def test_malformed_codes_are_400_and_cost_no_attempt(client, deliveries, fetch, old_token, body):
    await client.post(BIND, headers=oauth(old_token))
    response = await client.post(CONFIRM, headers=oauth(old_token), json=body)
    assert response.status_code == 400
    assert response.json() == {"code": "invalidRequest"}
    [row] = await fetch(select(VerificationCode).where(VerificationCode.purpose == "phone_bind"))
    assert row.attempts == 0


@pytest.mark.settings(otp_resend_seconds=0, sms_daily_quota=50)
async def test_code_as_a_number_is_accepted(client, deliveries, old_token):
    code = "0"
    while code.startswith("0"):  # a JSON number cannot carry a leading zero: ask for another code
        await client.post(BIND, headers=oauth(old_token))
        code = bind_messages(deliveries)[-1].code
    response = await client.post(CONFIRM, headers=oauth(old_token), json={"code": int(code)})
    assert response.status_code == 200


async def test_invalid_json_is_400_invalid_request(client, old_token):
    response = await client.post(
        CONFIRM, headers=oauth(old_token, **{"Content-Type": "application/json"}), content=b"{not json"
    )
    assert response.status_code == 400 and response.json() == {"code": "invalidRequest"}


@pytest.mark.settings(otp_resend_seconds=0)
@pytest.mark.parametrize(
    ("headers", "params", "locale", "text"),
    [
        ({}, {}, "ru", "Ваш код washgate: {code}"),
        ({"Lang": "en"}, {}, "en", "Your washgate code: {code}"),
        ({}, {"Lang": "en"}, "en", "Your washgate code: {code}"),
        ({"Accept-Language": "en"}, {}, "en", "Your washgate code: {code}"),
        ({"Accept-Language": "en", "Lang": "ru"}, {}, "ru", "Ваш код washgate: {code}"),
        ({"Lang": "en-US", "Origin": "https://app.example"}, {"Origin": "ios"}, "en", "Your washgate code: {code}"),
        ({"Lang": "en_US", "Accept-Language": "ru"}, {}, "en", "Your washgate code: {code}"),  # as apps send it
        ({"Lang": "fr", "Accept-Language": "en"}, {}, "en", "Your washgate code: {code}"),  # unknown: next header
    ],
)
async def test_the_sms_speaks_the_language_of_lang(client, deliveries, old_token, headers, params, locale, text):
    response = await client.post(BIND, headers=oauth(old_token, **headers), params=params)
    assert response.status_code == 200
    [message] = bind_messages(deliveries)
    assert message.locale == locale
    assert message.text == text.format(code=message.code)


async def test_failed_sms_is_502_and_a_retry_is_allowed_at_once(client, deliveries, fetch, old_token):
    deliveries.failing = True
    response = await client.post(BIND, headers=oauth(old_token))
    assert response.status_code == 502
    assert response.json() == {"code": "smsSendFailed"}
    rows = await fetch(select(VerificationCode).where(VerificationCode.purpose == "phone_bind"))
    assert [row.revoked_at is not None for row in rows] == [True]
    confirm = await client.post(CONFIRM, headers=oauth(old_token), json={"code": "1234"})
    assert confirm.status_code == 404

    deliveries.failing = False
    retry = await client.post(BIND, headers=oauth(old_token))
    assert retry.status_code == 200 and retry.json()["isConfirmationRequired"] is True
    assert len(bind_messages(deliveries)) == 1


async def test_parallel_binds_send_one_sms(client, deliveries, old_token):
    responses = await asyncio.gather(*(client.post(BIND, headers=oauth(old_token)) for _ in range(10)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [208] * 9
    assert len({response.json()["nextCodeAvailableAt"] for response in responses}) == 1
    assert len(bind_messages(deliveries)) == 1


async def test_parallel_immediate_binds_bind_once(client, deliveries, fetch, token):
    responses = await asyncio.gather(*(client.post(BIND, headers=oauth(token)) for _ in range(10)))
    assert {response.status_code for response in responses} == {200}
    assert await bound_numbers(fetch) == [PHONE]


@pytest.mark.settings(phone_lock_failures=3, otp_resend_seconds=0)
async def test_a_locked_phone_answers_429_whatever_the_code(client, deliveries, old_token):
    await client.post(BIND, headers=oauth(old_token))
    code = bind_messages(deliveries)[-1].code
    for _ in range(3):
        assert (
            await client.post(CONFIRM, headers=oauth(old_token), json={"code": wrong_code(code)})
        ).status_code == 422
    locked = await client.post(CONFIRM, headers=oauth(old_token), json={"code": code})
    assert locked.status_code == 429
    body = locked.json()
    assert list(body) == ["code", "nextCodeAvailableAt"] and body["code"] == "otherActiveRequest"
    assert seed_time(body["nextCodeAvailableAt"]) > utcnow() + timedelta(hours=23)
    assert int(locked.headers["Retry-After"]) > 23 * 3600
    bind = await client.post(BIND, headers=oauth(old_token))
    assert bind.status_code == 429 and bind.json()["code"] == "otherActiveRequest"
    assert len(bind_messages(deliveries)) == 1


async def test_wrong_method_and_unknown_path_answer_in_the_seed_shape(client, token):
    wrong_method = await client.get(BIND, headers=oauth(token))
    assert wrong_method.status_code == 405 and wrong_method.json() == {"code": "methodNotAllowed"}
    unknown = await client.post("/v1/auth/phone/nope", headers=oauth(token))
    assert unknown.status_code == 404 and unknown.json() == {"code": "notFound"}


@pytest.mark.settings(max_body_bytes=1024)
async def test_a_body_over_the_limit_is_413(client, token):
    response = await client.post(CONFIRM, headers=oauth(token), json={"code": "1" * 5000})
    assert response.status_code == 413
    assert response.json() == {"code": "payloadTooLarge"}


@pytest.mark.settings(max_body_bytes=1024)
@pytest.mark.parametrize("path", [BIND, UNBIND])
async def test_a_streamed_body_over_the_limit_is_413_where_no_body_is_read(client, deliveries, token, path):
    async def chunks():  # no Content-Length: only reading the body can find it too large
        for _ in range(4):
            yield b"x" * 1000

    response = await client.post(path, headers=oauth(token), content=chunks())
    assert response.status_code == 413
    assert response.json() == {"code": "payloadTooLarge"}
    assert bind_messages(deliveries) == []
