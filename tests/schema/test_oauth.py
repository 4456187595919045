"""GraphQL app tokens: createToken, activateToken, requestPinCall, refreshTokens with an app, setPassword."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest
from sqlmodel import select

from core.clock import utcnow
from core.security import encode_access_token, verify_password
from models import AuthSession, Driver, User, VerificationCode
from resolvers import apps
from tests.support import gql, wrong_code
from washgate import admin

PHONE = "+79161234567"
OTHER = "+79167654321"
EMAIL, PASSWORD = "driver@example.com", "correct horse"

CREATE_TOKEN = """
mutation CreateToken($appId: String!, $email: String, $password: String, $phone: String) {
  createToken(input: {appId: $appId, email: $email, password: $password, phone: $phone}) {
    __typename
    ... on TokenIssued {
      tokens { accessToken refreshToken expiresIn }
      activationNeeded
      user { id email }
      driver { id licenseNumber licenseExpiresOn carTitle carPlate carColor }
    }
    ... on Error { code message }
    ... on ValidationError { field }
    ... on RateLimitedError { retryAt }
  }
}"""
ACTIVATE_TOKEN = """
mutation ActivateToken($token: String!, $pin: String!) {
  activateToken(input: {token: $token, pin: $pin}) {
    __typename
    ... on TokenActivated { user { id phone { number } } tokens { accessToken refreshToken expiresIn } }
    ... on Error { code message }
    ... on ValidationError { field }
    ... on InvalidCodeError { attemptsLeft }
    ... on RateLimitedError { retryAt }
  }
}"""
REQUEST_PIN_CALL = """
mutation RequestPinCall($phone: String!) {
  requestPinCall(input: {phone: $phone}) {
    __typename
    ... on PinCallPlaced { phone }
    ... on Error { code message }
    ... on ValidationError { field }
    ... on RateLimitedError { retryAt }
  }
}"""
REFRESH = """
mutation Refresh($token: String!, $appId: String, $appSecret: String) {
  refreshTokens(input: {refreshToken: $token, appId: $appId, appSecret: $appSecret}) {
    __typename
    ... on TokenPair { accessToken refreshToken expiresIn }
    ... on Error { code message }
  }
}"""
SET_PASSWORD = """
mutation SetPassword($current: String, $new: String!) {
  setPassword(input: {currentPassword: $current, newPassword: $new}) {
    __typename
    ... on PasswordSet { user { id email } }
    ... on Error { code message }
    ... on ValidationError { field }
  }
}"""
ME = "query Me { me { id email } }"


@pytest.fixture
async def client_app(app):
    async with app.state.db.session() as session:
        return await apps.create_app(session, services=app.state.services, name="Driver app")


@pytest.fixture
async def other_app(app):
    async with app.state.db.session() as session:
        return await apps.create_app(session, services=app.state.services, name="Passenger app")


async def make_user(app, *, email=EMAIL, password=PASSWORD, driver=False):
    args = argparse.Namespace(email=email, password=password, phone=None, name=None, driver=driver)
    return (await admin.users_create(app.state.db, app.state.services, args))["id"]


async def create_token(client, variables, headers=None):
    return (await gql(client, CREATE_TOKEN, variables, headers=headers))["data"]["createToken"]


async def activate(client, token, pin, headers=None):
    return (await gql(client, ACTIVATE_TOKEN, {"token": token, "pin": pin}, headers=headers))["data"]["activateToken"]


async def phone_token(client, creds, phone=PHONE):
    issued = await create_token(client, {"appId": creds.app_id, "phone": phone})
    assert issued["__typename"] == "TokenIssued", issued
    return issued


async def test_create_token_by_password(app, client, client_app):
    user_id = await make_user(app, driver=True)
    issued = await create_token(client, {"appId": client_app.app_id, "email": EMAIL, "password": PASSWORD})
    assert issued["__typename"] == "TokenIssued"
    assert issued["activationNeeded"] is False and issued["tokens"]["expiresIn"] == 900
    assert issued["user"] == {"id": user_id, "email": EMAIL}
    assert issued["driver"]["licenseNumber"] is None and issued["driver"]["carPlate"] is None
    me = await gql(client, ME, token=issued["tokens"]["accessToken"])
    assert me["data"]["me"] == {"id": user_id, "email": EMAIL}


async def test_create_token_by_password_without_driver(app, client, client_app):
    await make_user(app)
    issued = await create_token(client, {"appId": client_app.app_id, "email": EMAIL, "password": PASSWORD})
    assert issued["driver"] is None


@pytest.mark.parametrize(
    "variables,locale,code,message",
    [
        ({"appId": "55e08577e779891040000001", "phone": PHONE}, "en", "INVALID_APP", "Bad app"),
        ({"appId": "55e08577e779891040000001", "phone": PHONE}, "ru", "INVALID_APP", "Неверное приложение"),
        ({"email": EMAIL, "password": "wrong password"}, "en", "INVALID_USER", "Bad user"),
        (
            {"email": "nobody@example.com", "password": PASSWORD},
            "ru",
            "INVALID_USER",
            "Неверный пользователь или пароль",
        ),
    ],
)
async def test_create_token_refusals(app, client, client_app, deliveries, fetch, variables, locale, code, message):
    await make_user(app)
    variables = {"appId": client_app.app_id, **variables}
    issued = await create_token(client, variables, headers={"Accept-Language": locale})
    assert issued == {"__typename": "OperationError", "code": code, "message": message}
    assert deliveries.messages == [] and await fetch(select(AuthSession)) == []


@pytest.mark.parametrize("app_id", ["app\u0000", "x" * 65, "app id"])
async def test_refresh_with_an_impossible_app_id_is_invalid_app(client, app_id):
    result = await gql(client, REFRESH, {"token": "r" * 43, "appId": app_id, "appSecret": "secret"})
    assert result["data"]["refreshTokens"]["code"] == "INVALID_APP"


async def test_blocked_app_is_invalid_app(app, client, client_app, deliveries):
    await make_user(app)
    async with app.state.db.session() as session:
        await apps.block_app(session, app_id=client_app.app_id)
    for variables in ({"email": EMAIL, "password": PASSWORD}, {"phone": PHONE}):
        issued = await create_token(client, {"appId": client_app.app_id, **variables})
        assert issued == {"__typename": "OperationError", "code": "INVALID_APP", "message": "Bad app"}
    assert deliveries.messages == []


@pytest.mark.parametrize(
    "variables,field,message",
    [
        ({"appId": ""}, "email", "Email and password, or phone, are required"),
        ({"appId": "", "phone": PHONE}, "appId", "This field is required"),
        ({"email": EMAIL, "password": PASSWORD, "phone": PHONE}, "phone", "Send either email and password or phone"),
        ({"email": "nope", "password": PASSWORD}, "email", "Email must be valid"),
        ({"phone": "+1 202 555 0143"}, "phone", "Codes cannot be sent to this country"),
    ],
)
async def test_create_token_validation(client, client_app, deliveries, variables, field, message):
    variables = {"appId": client_app.app_id, **variables}
    issued = await create_token(client, variables)
    assert issued == {"__typename": "ValidationError", "code": "VALIDATION_FAILED", "message": message, "field": field}
    assert deliveries.messages == []


async def test_phone_token_is_refused_until_activated(client, client_app, deliveries, fetch):
    issued = await phone_token(client, client_app)
    assert issued["activationNeeded"] is True and issued["user"] is None and issued["driver"] is None
    [message] = deliveries.to(PHONE)
    assert message.type == "otp.sms" and message.purpose == "token_activation"
    pending = issued["tokens"]
    for locale, text in (("en", "The token is not activated"), ("ru", "Токен не активирован")):
        me = await gql(client, ME, token=pending["accessToken"], headers={"Accept-Language": locale})
        assert me["data"]["me"] is None
        assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED" and me["errors"][0]["message"] == text
    denied = await gql(client, SET_PASSWORD, {"current": None, "new": "long enough"}, token=pending["accessToken"])
    assert denied["data"]["setPassword"]["code"] == "UNAUTHENTICATED"
    refresh = await gql(
        client,
        REFRESH,
        {"token": pending["refreshToken"], "appId": client_app.app_id, "appSecret": client_app.app_secret},
    )
    assert refresh["data"]["refreshTokens"]["code"] == "INVALID_REFRESH_TOKEN"
    [user] = await fetch(select(User))
    assert user.is_active is False and user.password_hash is None


async def test_activate_token_returns_a_rotated_pair(client, client_app, deliveries, fetch):
    pending = (await phone_token(client, client_app))["tokens"]
    activated = await activate(client, pending["accessToken"], deliveries.last_code(PHONE))
    assert activated["__typename"] == "TokenActivated"
    assert activated["user"]["phone"] == {"number": PHONE}
    fresh = activated["tokens"]
    assert fresh["refreshToken"] != pending["refreshToken"] and fresh["accessToken"] != pending["accessToken"]
    for token in (fresh["accessToken"], pending["accessToken"]):  # the same session, now active
        assert (await gql(client, ME, token=token))["data"]["me"]["id"] == activated["user"]["id"]
    [user] = await fetch(select(User))
    assert user.is_active is True
    creds = {"appId": client_app.app_id, "appSecret": client_app.app_secret}
    refreshed = (await gql(client, REFRESH, {"token": fresh["refreshToken"], **creds}))["data"]["refreshTokens"]
    assert refreshed["__typename"] == "TokenPair"
    old = (await gql(client, REFRESH, {"token": pending["refreshToken"], **creds}))["data"]["refreshTokens"]
    assert old["code"] == "INVALID_REFRESH_TOKEN"


async def test_wrong_pin_in_both_languages_then_spent_attempts(client, client_app, deliveries):
    pending = (await phone_token(client, client_app))["tokens"]
    pin = deliveries.last_code(PHONE)
    first = await activate(client, pending["accessToken"], wrong_code(pin))
    assert first == {
        "__typename": "InvalidCodeError",
        "code": "INVALID_PIN",
        "message": "The code is incorrect",
        "attemptsLeft": 4,
    }
    second = await activate(client, pending["accessToken"], wrong_code(pin), headers={"Accept-Language": "ru"})
    assert second["message"] == "Неверный код" and second["attemptsLeft"] == 3
    for _ in range(3):
        await activate(client, pending["accessToken"], wrong_code(pin))
    spent = await activate(client, pending["accessToken"], pin)
    assert spent["__typename"] == "RateLimitedError" and spent["code"] == "ATTEMPTS_EXHAUSTED"
    assert spent["retryAt"]


async def test_activation_of_an_expired_or_foreign_token(app, client, client_app, deliveries, fetch):
    pending = (await phone_token(client, client_app))["tokens"]
    pin = deliveries.last_code(PHONE)
    other = (await phone_token(client, client_app, phone=OTHER))["tokens"]
    foreign = await activate(client, other["accessToken"], pin)
    assert foreign["__typename"] == "InvalidCodeError" and foreign["code"] == "INVALID_PIN"
    auth_session = (await fetch(select(AuthSession).order_by(AuthSession.created_at)))[0]
    expired = encode_access_token(
        app.state.services.keys,
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        now=utcnow() - timedelta(hours=1),
        ttl=900,
    )
    for token in (expired, "garbage"):
        refused = await activate(client, token, pin)
        assert refused == {"__typename": "OperationError", "code": "INVALID_TOKEN", "message": "The token is incorrect"}
    malformed = await activate(client, pending["accessToken"], "12a4")
    assert malformed["__typename"] == "ValidationError" and malformed["field"] == "pin"
    assert (await activate(client, pending["accessToken"], pin))["__typename"] == "TokenActivated"


async def test_request_pin_call_replaces_the_pin(client, client_app, deliveries, fetch):
    pending = (await phone_token(client, client_app))["tokens"]
    sms_pin = deliveries.last_code(PHONE)
    placed = (await gql(client, REQUEST_PIN_CALL, {"phone": "8 916 123-45-67"}))["data"]["requestPinCall"]
    assert placed == {"__typename": "PinCallPlaced", "phone": PHONE}
    call = deliveries.to(PHONE)[-1]
    assert call.type == "otp.voice" and call.purpose == "token_activation" and call.channel == "voice"
    assert call.text == "Your code is " + " ".join(call.code)
    codes = await fetch(select(VerificationCode).order_by(VerificationCode.id))
    assert [(c.channel, c.revoked_at is not None) for c in codes] == [("sms", True), ("voice", False)]
    if sms_pin != call.code:
        old = await activate(client, pending["accessToken"], sms_pin)
        assert old["__typename"] == "InvalidCodeError" and old["code"] == "INVALID_PIN"
    assert (await activate(client, pending["accessToken"], call.code))["__typename"] == "TokenActivated"


async def test_request_pin_call_errors(client, client_app, deliveries):
    none = (await gql(client, REQUEST_PIN_CALL, {"phone": PHONE}))["data"]["requestPinCall"]
    assert none == {"__typename": "OperationError", "code": "NOT_FOUND", "message": "Not found"}
    bad = (await gql(client, REQUEST_PIN_CALL, {"phone": "123"}))["data"]["requestPinCall"]
    assert bad["__typename"] == "ValidationError" and bad["field"] == "phone"
    await phone_token(client, client_app)
    assert (await gql(client, REQUEST_PIN_CALL, {"phone": PHONE}))["data"]["requestPinCall"][
        "__typename"
    ] == "PinCallPlaced"
    again = (await gql(client, REQUEST_PIN_CALL, {"phone": PHONE}))["data"]["requestPinCall"]
    assert again["__typename"] == "RateLimitedError" and again["code"] == "RATE_LIMITED" and again["retryAt"]
    assert [m.type for m in deliveries.to(PHONE)] == ["otp.sms", "otp.voice"]


async def test_create_token_limits_and_delivery_failures(client, client_app, deliveries):
    await phone_token(client, client_app)
    again = await create_token(client, {"appId": client_app.app_id, "phone": PHONE})
    assert again["__typename"] == "RateLimitedError" and again["code"] == "RATE_LIMITED"
    deliveries.failing = True
    failed = await create_token(client, {"appId": client_app.app_id, "phone": OTHER})
    assert failed["__typename"] == "OperationError" and failed["code"] == "DELIVERY_FAILED"


async def test_refresh_tokens_with_app_credentials(app, client, client_app, other_app):
    await make_user(app)
    tokens = (await create_token(client, {"appId": client_app.app_id, "email": EMAIL, "password": PASSWORD}))["tokens"]
    wrong_secret = (
        await gql(
            client,
            REFRESH,
            {"token": tokens["refreshToken"], "appId": client_app.app_id, "appSecret": other_app.app_secret},
        )
    )["data"]["refreshTokens"]
    assert wrong_secret == {"__typename": "OperationError", "code": "INVALID_APP", "message": "Bad app"}
    other = (
        await gql(
            client,
            REFRESH,
            {"token": tokens["refreshToken"], "appId": other_app.app_id, "appSecret": other_app.app_secret},
        )
    )["data"]["refreshTokens"]
    assert other["code"] == "INVALID_REFRESH_TOKEN"
    no_app = (await gql(client, REFRESH, {"token": tokens["refreshToken"]}))["data"]["refreshTokens"]
    assert no_app["code"] == "INVALID_REFRESH_TOKEN"
    right = (
        await gql(
            client,
            REFRESH,
            {"token": tokens["refreshToken"], "appId": client_app.app_id, "appSecret": client_app.app_secret},
        )
    )["data"]["refreshTokens"]
    assert right["__typename"] == "TokenPair" and right["expiresIn"] == 900
    async with app.state.db.session() as session:
        await apps.block_app(session, app_id=client_app.app_id)
    blocked = (
        await gql(
            client,
            REFRESH,
            {"token": right["refreshToken"], "appId": client_app.app_id, "appSecret": client_app.app_secret},
        )
    )["data"]["refreshTokens"]
    assert blocked["code"] == "INVALID_APP"


async def test_change_password(app, client, client_app, fetch):
    await make_user(app)
    variables = {"appId": client_app.app_id, "email": EMAIL, "password": PASSWORD}
    elsewhere = (await create_token(client, variables))["tokens"]
    here = (await create_token(client, variables))["tokens"]["accessToken"]

    async def set_password(current, new, headers=None):
        result = await gql(client, SET_PASSWORD, {"current": current, "new": new}, token=here, headers=headers)
        return result["data"]["setPassword"]

    assert await set_password(None, "new password 1") == {
        "__typename": "ValidationError",
        "code": "VALIDATION_FAILED",
        "message": "The current password is required",
        "field": "currentPassword",
    }
    wrong = await set_password("not it", "new password 1", headers={"Accept-Language": "ru"})
    assert wrong["field"] == "currentPassword" and wrong["message"] == "Текущий пароль неверен"
    short = await set_password(PASSWORD, "short")
    assert short["field"] == "newPassword" and short["message"] == "The password must be at least 8 characters long"
    short_ru = await set_password(PASSWORD, "short", headers={"Accept-Language": "ru"})
    assert short_ru["message"] == "Пароль должен быть не короче 8 символов"
    done = await set_password(PASSWORD, "new password 1")
    assert done["__typename"] == "PasswordSet" and done["user"]["email"] == EMAIL
    assert (await create_token(client, variables))["code"] == "INVALID_USER"
    assert (await create_token(client, {**variables, "password": "new password 1"}))["__typename"] == "TokenIssued"
    # the change signed out the other sessions, not this one
    assert (await gql(client, ME, token=here))["data"]["me"]["email"] == EMAIL
    assert (await gql(client, ME, token=elsewhere["accessToken"]))["errors"][0]["extensions"][
        "code"
    ] == "UNAUTHENTICATED"


@pytest.mark.settings(password_failures_per_hour=2)
async def test_wrong_current_passwords_are_capped(app, client, client_app):
    await make_user(app)
    variables = {"appId": client_app.app_id, "email": EMAIL, "password": PASSWORD}
    token = (await create_token(client, variables))["tokens"]["accessToken"]
    answers = []
    for current in ("wrong one", "wrong two", PASSWORD):
        result = await gql(client, SET_PASSWORD, {"current": current, "new": "new password 1"}, token=token)
        answers.append(result["data"]["setPassword"]["code"])
    assert answers == ["VALIDATION_FAILED", "VALIDATION_FAILED", "RATE_LIMITED"]
    assert (await create_token(client, variables))["__typename"] == "TokenIssued"  # the password is unchanged


async def test_first_password_needs_no_current_one(client, client_app, deliveries, fetch):
    pending = (await phone_token(client, client_app))["tokens"]
    token = (await activate(client, pending["accessToken"], deliveries.last_code(PHONE)))["tokens"]["accessToken"]
    result = (await gql(client, SET_PASSWORD, {"current": None, "new": "first password"}, token=token))["data"][
        "setPassword"
    ]
    assert result["__typename"] == "PasswordSet"
    [user] = await fetch(select(User))
    assert (await verify_password("first password", user.password_hash))[0] is True
    assert (await gql(client, ME, token=token))["data"]["me"] is not None


async def test_set_password_needs_a_user(client):
    result = (await gql(client, SET_PASSWORD, {"current": None, "new": "long enough"}))["data"]["setPassword"]
    assert result == {"__typename": "OperationError", "code": "UNAUTHENTICATED", "message": "Authentication required"}


async def test_deleting_the_account_deletes_the_driver_profile(app, fetch):
    user_id = await make_user(app, driver=True)
    assert len(await fetch(select(Driver))) == 1
    await admin.users_delete(app.state.db, app.state.services, argparse.Namespace(id=user_id))
    assert await fetch(select(Driver)) == [] and await fetch(select(User)) == []
