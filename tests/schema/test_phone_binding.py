"""bindPhone, confirmPhoneBinding and unbindPhone over GraphQL: the seed 002 story as data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select, update

from core.clock import utcnow
from models import Cooldown, Phone, User, VerificationCode
from tests.support import gql, wrong_code

PHONE, NEW_PHONE = "+79161234567", "+79161234568"

SEND_OTP = """
mutation SendOtp($input: SendOtpInput!) {
  sendOtp(input: $input) { __typename ... on Error { code } }
}
"""
REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on AuthSuccess { tokens { accessToken } }
    ... on Error { code message }
  }
}
"""
CHANGE_PHONE = """
mutation ChangePhone($input: ChangePhoneInput!) {
  changePhone(input: $input) { __typename ... on Error { code } }
}
"""
BIND_PHONE = """
mutation BindPhone {
  bindPhone {
    __typename
    ... on PhoneBindingStarted { confirmationRequired nextCodeAvailableAt alreadySent }
    ... on RateLimitedError { retryAt }
    ... on Error { code message }
  }
}
"""
CONFIRM_PHONE_BINDING = """
mutation ConfirmPhoneBinding($input: ConfirmPhoneBindingInput!) {
  confirmPhoneBinding(input: $input) {
    __typename
    ... on PhoneBound { phone { id number masked verifiedAt boundAt } }
    ... on InvalidCodeError { attemptsLeft }
    ... on RateLimitedError { retryAt }
    ... on ValidationError { field }
    ... on Error { code message }
  }
}
"""
UNBIND_PHONE = """
mutation UnbindPhone {
  unbindPhone {
    __typename
    ... on PhoneUnbound { phone { number boundAt } }
    ... on Error { code message }
  }
}
"""
MY_PHONES = """
query MyPhones { me { phone { number boundAt } phones { number boundAt } } }
"""


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def register(client, deliveries, phone=PHONE) -> str:
    await gql(client, SEND_OTP, {"input": {"phone": phone}})
    result = await gql(
        client, REGISTER, {"input": {"phone": phone, "otp": deliveries.last_code(phone), "termsAccepted": True}}
    )
    return result["data"]["register"]["tokens"]["accessToken"]


async def age_phone(execute, phone=PHONE) -> None:
    await execute(update(User).where(col(User.phone) == phone).values(phone_verified_at=utcnow() - timedelta(hours=1)))


def bind_messages(deliveries, phone=PHONE):
    return [m for m in deliveries.to(phone) if m.purpose == "phone_bind"]


async def bind(client, token, **headers):
    return (await gql(client, BIND_PHONE, token=token, headers=headers))["data"]["bindPhone"]


async def confirm(client, token, code):
    return (await gql(client, CONFIRM_PHONE_BINDING, {"input": {"code": code}}, token=token))["data"][
        "confirmPhoneBinding"
    ]


async def unbind(client, token):
    return (await gql(client, UNBIND_PHONE, token=token))["data"]["unbindPhone"]


@pytest.fixture
async def token(client, deliveries) -> str:
    return await register(client, deliveries)


@pytest.fixture
async def old_token(token, execute) -> str:
    await age_phone(execute)
    return token


async def test_recent_phone_is_bound_at_once_and_shows_in_me(client, deliveries, token):
    before = utcnow()
    started = await bind(client, token)
    assert started["__typename"] == "PhoneBindingStarted"
    assert started["confirmationRequired"] is False and started["alreadySent"] is False
    assert before <= when(started["nextCodeAvailableAt"]) <= utcnow()
    assert bind_messages(deliveries) == []
    me = (await gql(client, MY_PHONES, token=token))["data"]["me"]
    assert me["phone"]["number"] == PHONE and me["phone"]["boundAt"] is not None
    assert me["phones"] == [me["phone"]]


async def test_sms_then_already_sent_then_confirm(client, deliveries, fetch, old_token):
    started = await bind(client, old_token)
    assert started["__typename"] == "PhoneBindingStarted"
    assert started["confirmationRequired"] is True and started["alreadySent"] is False
    [message] = bind_messages(deliveries)
    assert message.locale == "en" and message.text == f"Your washgate code: {message.code}"

    repeat = await bind(client, old_token)
    assert repeat == {**started, "alreadySent": True}
    assert len(bind_messages(deliveries)) == 1

    bound = await confirm(client, old_token, message.code)
    assert bound["__typename"] == "PhoneBound"
    [row] = await fetch(select(Phone))
    assert bound["phone"]["id"] == str(row.id) and bound["phone"]["number"] == PHONE
    assert bound["phone"]["masked"] and bound["phone"]["verifiedAt"] is not None
    assert when(bound["phone"]["boundAt"]) == row.bound_at


async def test_wrong_codes_then_attempts_exhausted_then_other_active_request(client, deliveries, execute, old_token):
    started = await bind(client, old_token)
    code = bind_messages(deliveries)[-1].code
    for left in (4, 3, 2, 1, 0):
        wrong = await confirm(client, old_token, wrong_code(code))
        assert wrong["__typename"] == "InvalidCodeError"
        assert wrong["code"] == "INVALID_OTP" and wrong["attemptsLeft"] == left

    spent = await confirm(client, old_token, code)
    assert spent["__typename"] == "RateLimitedError" and spent["code"] == "ATTEMPTS_EXHAUSTED"
    assert spent["retryAt"] == started["nextCodeAvailableAt"]

    repeat = await bind(client, old_token)
    assert repeat["__typename"] == "RateLimitedError" and repeat["code"] == "OTHER_ACTIVE_REQUEST"
    assert repeat["retryAt"] == started["nextCodeAvailableAt"]
    assert len(bind_messages(deliveries)) == 1

    await execute(update(Cooldown).values(until=utcnow() - timedelta(seconds=1)))
    fresh = await bind(client, old_token)
    assert fresh["confirmationRequired"] is True and fresh["alreadySent"] is False
    assert (await confirm(client, old_token, bind_messages(deliveries)[-1].code))["__typename"] == "PhoneBound"


@pytest.mark.settings(sms_daily_quota=2, otp_resend_seconds=0)
async def test_daily_quota_is_sms_quota_exceeded(client, deliveries, old_token):
    # Registration used one SMS of this phone's quota of two.
    assert (await bind(client, old_token))["confirmationRequired"] is True
    refused = await bind(client, old_token)
    assert refused["__typename"] == "RateLimitedError" and refused["code"] == "SMS_QUOTA_EXCEEDED"
    assert when(refused["retryAt"]) > utcnow()
    assert len(bind_messages(deliveries)) == 1


async def test_phone_changed_until_unbind(client, deliveries, token):
    assert (await bind(client, token))["confirmationRequired"] is False
    await gql(client, SEND_OTP, {"input": {"phone": NEW_PHONE}})
    await gql(
        client, CHANGE_PHONE, {"input": {"phone": NEW_PHONE, "otp": deliveries.last_code(NEW_PHONE)}}, token=token
    )

    refused = await bind(client, token)
    assert refused["__typename"] == "OperationError" and refused["code"] == "PHONE_CHANGED"

    unbound = await unbind(client, token)
    assert unbound == {"__typename": "PhoneUnbound", "phone": {"number": PHONE, "boundAt": None}}
    rebound = await bind(client, token)
    assert rebound["confirmationRequired"] is False
    me = (await gql(client, MY_PHONES, token=token))["data"]["me"]
    assert me["phone"]["number"] == NEW_PHONE and me["phone"]["boundAt"] is not None
    assert [phone["boundAt"] is not None for phone in me["phones"]] == [False, True]


async def test_unbind_with_nothing_bound_is_no_bound_phone(client, token):
    refused = await unbind(client, token)
    assert refused == {
        "__typename": "OperationError",
        "code": "NO_BOUND_PHONE",
        "message": "No phone is bound to the account",
    }


async def test_an_expired_code_is_an_invalid_code_with_none_left(client, deliveries, execute, old_token):
    await bind(client, old_token)
    await execute(update(VerificationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    refused = await confirm(client, old_token, bind_messages(deliveries)[-1].code)
    assert refused == {
        "__typename": "InvalidCodeError",
        "attemptsLeft": 0,
        "code": "INVALID_OTP",
        "message": "The code has expired",
    }


@pytest.mark.settings(otp_resend_seconds=0)
async def test_verifying_the_bound_number_again_keeps_it_bound(client, deliveries, token):
    assert (await bind(client, token))["confirmationRequired"] is False
    await gql(client, SEND_OTP, {"input": {"phone": PHONE}})
    changed = await gql(
        client, CHANGE_PHONE, {"input": {"phone": PHONE, "otp": deliveries.last_code(PHONE)}}, token=token
    )
    assert changed["data"]["changePhone"]["__typename"] == "AccountPhoneChanged"
    me = (await gql(client, MY_PHONES, token=token))["data"]["me"]
    assert me["phone"]["number"] == PHONE and me["phone"]["boundAt"] is not None
    assert me["phones"] == [me["phone"]]  # one row per number, not one per proof
    assert (await unbind(client, token))["phone"]["number"] == PHONE


async def test_the_used_code_entered_again_is_an_invalid_code_with_none_left(client, deliveries, old_token):
    await bind(client, old_token)
    code = bind_messages(deliveries)[-1].code
    assert (await confirm(client, old_token, code))["__typename"] == "PhoneBound"
    assert await confirm(client, old_token, code) == {
        "__typename": "InvalidCodeError",
        "attemptsLeft": 0,
        "code": "INVALID_OTP",
        "message": "The code has already been used",
    }
    # another code with nothing pending is not a code of this binding
    other = await confirm(client, old_token, wrong_code(code))
    assert other["__typename"] == "OperationError" and other["code"] == "NO_ACTIVE_REQUEST"


async def test_confirm_with_nothing_pending_is_no_active_request(client, old_token):
    refused = await confirm(client, old_token, "1234")
    assert refused["__typename"] == "OperationError" and refused["code"] == "NO_ACTIVE_REQUEST"


async def test_malformed_code_is_a_validation_error(client, deliveries, old_token):
    await bind(client, old_token)
    refused = await confirm(client, old_token, "12")
    assert refused["__typename"] == "ValidationError"
    assert refused["code"] == "VALIDATION_FAILED" and refused["field"] == "code"


async def test_failed_delivery_is_delivery_failed(client, deliveries, old_token):
    deliveries.failing = True
    refused = await bind(client, old_token)
    assert refused["__typename"] == "OperationError" and refused["code"] == "DELIVERY_FAILED"
    deliveries.failing = False
    assert (await bind(client, old_token))["confirmationRequired"] is True


async def test_messages_follow_accept_language(client, old_token):
    await gql(client, CONFIRM_PHONE_BINDING, {"input": {"code": "1234"}}, token=old_token)
    refused = await gql(
        client, CONFIRM_PHONE_BINDING, {"input": {"code": "1234"}}, token=old_token, headers={"Accept-Language": "ru"}
    )
    assert refused["data"]["confirmPhoneBinding"]["message"] == "Нет запроса на привязку телефона, ожидающего код"


@pytest.mark.parametrize("operation", [BIND_PHONE, UNBIND_PHONE])
async def test_anonymous_or_bad_token_is_unauthenticated(client, operation):
    for token in (None, "not-a-token"):
        result = (await gql(client, operation, token=token))["data"]
        [payload] = result.values()
        assert payload["__typename"] == "OperationError" and payload["code"] == "UNAUTHENTICATED"
