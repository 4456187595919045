"""CallUp over GraphQL: createVerification, checkVerification and the app-scoped verification query."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from sqlmodel import select, update

from core.clock import utcnow
from models import CallupOrder, VerificationCode
from resolvers import apps
from tests.support import gql, wrong_code

PHONE, E164 = "79161234567", "+79161234567"
PREFIX = "7487260"

VERIFICATION_FIELDS = (
    "id phone callerPrefix callerMask codeLength code status attemptsLeft expiresAt createdAt verifiedAt"
)
# `Verification.code` and `Error.code` differ in type: a union selection aliases one of them.
CREATED_FIELDS = VERIFICATION_FIELDS.replace(" code ", " value: code ")
ERROR_FIELDS = """
    ... on Error { code message }
    ... on ValidationError { field }
    ... on RateLimitedError { retryAt }
    ... on InvalidCodeError { attemptsLeft }
"""
CREATE = f"""
mutation Create($input: CreateVerificationInput!) {{
  createVerification(input: $input) {{
    __typename
    ... on Verification {{ {CREATED_FIELDS} }}
    {ERROR_FIELDS}
  }}
}}
"""
CHECK = f"""
mutation Check($input: CheckVerificationInput!) {{
  checkVerification(input: $input) {{
    __typename
    ... on VerificationChecked {{ success verification {{ {VERIFICATION_FIELDS} }} }}
    {ERROR_FIELDS}
  }}
}}
"""
QUERY = f"""
query Verification($id: ID!) {{
  verification(id: $id) {{ {VERIFICATION_FIELDS} }}
}}
"""


async def new_app(app, *, name="shop"):
    async with app.state.db.session() as session:
        return await apps.create_app(session, services=app.state.services, name=name)


@pytest.fixture
async def creds(app):
    return await new_app(app)


def as_app(token, **extra):
    headers = {} if token is None else {"X-Application-Token": token}
    return {**headers, **extra}


async def create(client, token, phone=PHONE, **fields):
    body = await gql(client, CREATE, {"input": {"phone": phone, **fields}}, headers=as_app(token))
    return body["data"]["createVerification"]


async def check(client, token, order_id, code, **extra):
    body = await gql(client, CHECK, {"input": {"id": order_id, "code": code}}, headers=as_app(token, **extra))
    return body["data"]["checkVerification"]


async def query(client, token, order_id):
    return await gql(client, QUERY, {"id": order_id}, headers=as_app(token))


async def test_create_verification_calls_the_phone_and_hides_the_code(client, creds, deliveries):
    before = utcnow()
    result = await create(client, creds.app_token)
    assert result["__typename"] == "Verification"
    assert uuid.UUID(result["id"]).version == 4
    assert result["phone"] == E164 and result["value"] is None and result["status"] == "PENDING"
    assert result["callerPrefix"] == PREFIX and result["callerMask"] == PREFIX + "****" and result["codeLength"] == 4
    assert result["attemptsLeft"] == 5 and result["verifiedAt"] is None
    expires_at = datetime.fromisoformat(result["expiresAt"])
    assert before + timedelta(seconds=299) <= expires_at <= utcnow() + timedelta(seconds=301)
    [message] = deliveries.messages
    assert message.type == "otp.flash_call" and message.purpose == "app_verification" and message.phone == E164
    assert message.caller_id == PREFIX + message.code


async def test_reveal_code_and_a_chosen_code_are_returned(client, creds, deliveries):
    revealed = await create(client, creds.app_token, revealCode=True)
    assert revealed["value"] == deliveries.last_code(E164)
    chosen = await create(client, creds.app_token, "79161234568", code="0345")
    assert chosen["value"] == "0345" and deliveries.messages[-1].caller_id == "74872600345"


async def test_a_bad_chosen_code_or_phone_is_a_validation_error(client, creds, deliveries, fetch):
    result = await create(client, creds.app_token, code="12a4")
    assert result == {
        "__typename": "ValidationError",
        "code": "VALIDATION_FAILED",
        "message": "The code must be 4 digits",
        "field": "code",
    }
    result = await create(client, creds.app_token, "12345")
    assert result["__typename"] == "ValidationError" and result["field"] == "phone"
    assert deliveries.messages == [] and await fetch(select(CallupOrder)) == []


@pytest.mark.parametrize("token", [None, str(uuid.uuid4()), "garbage"])
async def test_no_or_unknown_app_token_is_unauthenticated(client, creds, deliveries, token):
    result = await create(client, token, code="bad")
    assert result == {"__typename": "OperationError", "code": "UNAUTHENTICATED", "message": "access denied"}
    result = await check(client, token, str(uuid.uuid4()), "1234")
    assert result == {"__typename": "OperationError", "code": "UNAUTHENTICATED", "message": "access denied"}
    assert deliveries.messages == []


async def test_a_blocked_app_is_unauthenticated(client, app, creds, deliveries):
    created = await create(client, creds.app_token)
    async with app.state.db.session() as session:
        await apps.block_app(session, app_id=creds.app_id)
    result = await check(client, creds.app_token, created["id"], deliveries.last_code(E164))
    assert result["__typename"] == "OperationError" and result["code"] == "UNAUTHENTICATED"
    assert (await create(client, creds.app_token, "79161234568"))["code"] == "UNAUTHENTICATED"
    body = await query(client, creds.app_token, created["id"])
    assert body["data"]["verification"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_check_verification_wrong_then_right_then_again(client, creds, deliveries):
    created = await create(client, creds.app_token)
    code = deliveries.last_code(E164)
    wrong = await check(client, creds.app_token, created["id"], wrong_code(code))
    assert wrong == {
        "__typename": "InvalidCodeError",
        "code": "INVALID_OTP",
        "message": "The code is incorrect",
        "attemptsLeft": 4,
    }
    right = await check(client, creds.app_token, created["id"], code)
    assert right["__typename"] == "VerificationChecked" and right["success"] is True
    verification = right["verification"]
    assert verification["id"] == created["id"] and verification["status"] == "VERIFIED"
    assert verification["verifiedAt"] is not None and verification["code"] is None
    assert verification["attemptsLeft"] == 4  # the right code spent none
    shown = await gql(client, QUERY, {"id": created["id"]}, headers=as_app(creds.app_token))
    assert shown["data"]["verification"]["attemptsLeft"] == 4
    again = await check(client, creds.app_token, created["id"], code)
    assert again == {
        "__typename": "InvalidCodeError",
        "code": "INVALID_OTP",
        "message": "This order is already verified",
        "attemptsLeft": 0,
    }


async def test_a_malformed_code_is_a_validation_error_and_costs_nothing(client, creds, fetch):
    created = await create(client, creds.app_token)
    result = await check(client, creds.app_token, created["id"], "12")
    assert result["__typename"] == "ValidationError" and result["field"] == "code"
    [row] = await fetch(select(VerificationCode).where(VerificationCode.subject == created["id"]))
    assert row.attempts == 0


async def test_spent_attempts_are_attempts_exhausted(client, creds, deliveries):
    created = await create(client, creds.app_token)
    code = deliveries.last_code(E164)
    for left in (4, 3, 2, 1, 0):
        assert (await check(client, creds.app_token, created["id"], wrong_code(code)))["attemptsLeft"] == left
    result = await check(client, creds.app_token, created["id"], code)
    assert result["__typename"] == "RateLimitedError" and result["code"] == "ATTEMPTS_EXHAUSTED"
    assert datetime.fromisoformat(result["retryAt"]) <= utcnow() + timedelta(seconds=61)
    assert (await query(client, creds.app_token, created["id"]))["data"]["verification"]["status"] == "EXHAUSTED"


async def test_parallel_right_checks_succeed_once(client, creds, deliveries):
    created = await create(client, creds.app_token)
    code = deliveries.last_code(E164)
    results = await asyncio.gather(*(check(client, creds.app_token, created["id"], code) for _ in range(10)))
    assert sorted(r["__typename"] for r in results) == ["InvalidCodeError"] * 9 + ["VerificationChecked"]


async def test_orders_are_the_calling_apps_own(client, app, creds, deliveries):
    created = await create(client, creds.app_token)
    other = await new_app(app, name="other")
    result = await check(client, other.app_token, created["id"], deliveries.last_code(E164))
    assert result == {"__typename": "OperationError", "code": "NOT_FOUND", "message": "order not found"}
    assert await query(client, other.app_token, created["id"]) == {"data": {"verification": None}}
    assert await query(client, None, created["id"]) == {"data": {"verification": None}}
    assert await query(client, creds.app_token, "not-a-uuid") == {"data": {"verification": None}}
    assert await query(client, creds.app_token, str(uuid.uuid4())) == {"data": {"verification": None}}
    own = (await query(client, creds.app_token, created["id"]))["data"]["verification"]
    assert own["id"] == created["id"] and own["status"] == "PENDING" and own["attemptsLeft"] == 5
    assert own["code"] is None and own["expiresAt"] == created["expiresAt"]


async def test_an_expired_order(client, creds, deliveries, execute):
    created = await create(client, creds.app_token)
    await execute(
        update(VerificationCode)
        .where(VerificationCode.subject == created["id"])
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    assert (await query(client, creds.app_token, created["id"]))["data"]["verification"]["status"] == "EXPIRED"
    result = await check(client, creds.app_token, created["id"], deliveries.last_code(E164))
    assert result["__typename"] == "InvalidCodeError" and result["message"] == "The code has expired"
    assert result["attemptsLeft"] == 0


async def test_a_failed_call_is_delivery_failed_and_leaves_no_order(client, creds, deliveries, fetch):
    deliveries.failing = True
    result = await create(client, creds.app_token)
    assert result["__typename"] == "OperationError" and result["code"] == "DELIVERY_FAILED"
    assert await fetch(select(CallupOrder)) == []


@pytest.mark.settings(app_sends_per_hour=2, otp_resend_seconds=0)
async def test_per_app_hourly_cap(client, creds, deliveries):
    assert (await create(client, creds.app_token))["__typename"] == "Verification"
    assert (await create(client, creds.app_token))["__typename"] == "Verification"
    result = await create(client, creds.app_token)
    assert result["__typename"] == "RateLimitedError" and result["code"] == "RATE_LIMITED"
    assert len(deliveries.messages) == 2


async def test_messages_follow_accept_language(client, creds):
    body = await gql(
        client, CHECK, {"input": {"id": str(uuid.uuid4()), "code": "1234"}}, headers={"Accept-Language": "ru"}
    )
    assert body["data"]["checkVerification"]["message"] == "доступ запрещён"
    result = await check(client, creds.app_token, str(uuid.uuid4()), "1234", **{"Accept-Language": "ru"})
    assert result["message"] == "заказ не найден"
