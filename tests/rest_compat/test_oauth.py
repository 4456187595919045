"""Seed 003 at /auth/oauth and /auto_call: tokens by e-mail + password and by phone + PIN."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import timedelta

import httpx
import pytest
from argon2 import PasswordHasher
from sqlmodel import select, update

from core.clock import utcnow
from core.security import Keys, encode_access_token
from models import AuthSession, ClientApp, Driver, RateCounter, RefreshToken, User, VerificationCode
from resolvers import apps, oauth_tokens, users
from tests.support import gql, wrong_code
from washgate import admin

TOKEN, ACTIVATE, REFRESH = "/auth/oauth/token", "/auth/oauth/activate", "/auth/oauth/refresh"
PHONE = "+79161234567"
PHONE_DIGITS = "79161234567"
OTHER = "+79167654321"
EMAIL, PASSWORD = "foo@wheely.com", "qwerty123"
TOKEN_KEYS = ["access_token", "refresh_token", "token_type", "expires_in", "activation_needed"]
USER_KEYS = ["id", "name", "email", "phone", "has_password", "created_at"]
DRIVER_KEYS = ["id", "license_number", "license_expires_on", "car_title", "car_plate", "car_color"]
ME = "query Me { me { id email } }"
WRONG_PIN_EN = {"errors": {"invalid_pin": ["The code is incorrect. Please check it"]}}
WRONG_PIN_RU = {"errors": {"invalid_pin": ["Неверный код. Пожалуйста, проверьте его"]}}
BAD_TOKEN = {"errors": {"invalid_token": ["The token is incorrect"]}}
BAD_REFRESH = {"errors": {"invalid_refresh_token": ["The refresh token is incorrect"]}}
BAD_APP = {"errors": {"invalid_app": ["Bad app"]}}
NOT_FOUND = {"errors": {"entity_not_found": ["Not found"]}}


@pytest.fixture
async def client_app(app):
    async with app.state.db.session() as session:
        return await apps.create_app(session, services=app.state.services, name="Driver app")


@pytest.fixture
async def other_app(app):
    async with app.state.db.session() as session:
        return await apps.create_app(session, services=app.state.services, name="Passenger app")


async def make_user(app, *, email=EMAIL, password=PASSWORD, driver=False, phone=None):
    """An account as `washgate users create` makes it."""
    args = argparse.Namespace(email=email, password=password, phone=phone, name=None, driver=driver)
    result = await admin.users_create(app.state.db, app.state.services, args)
    return int(result["id"])


async def block(app, app_id):
    async with app.state.db.session() as session:
        assert await apps.block_app(session, app_id=app_id)


async def phone_token(client, creds, phone=PHONE, headers=None):
    response = await client.post(TOKEN, json={"app_id": creds.app_id, "phone": phone}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["token"]


async def me_of(client, token):
    return await gql(client, ME, token=token)


# --- e-mail + password ----------------------------------------------------------


@pytest.mark.settings(otp_resend_seconds=0)
async def test_parallel_phone_tokens_for_a_new_phone_make_one_account(client, client_app, fetch):
    import asyncio

    responses = await asyncio.gather(
        *(client.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE}) for _ in range(8))
    )
    assert sorted({response.status_code for response in responses}) in ([200], [200, 429])
    assert [user.phone for user in await fetch(select(User))] == [PHONE]


async def test_password_token_answers_token_user_and_driver(app, client, client_app, fetch):
    user_id = await make_user(app, driver=True)
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token", "user", "driver"]
    token = body["token"]
    assert list(token) == TOKEN_KEYS
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900 and token["activation_needed"] is False
    assert list(body["user"]) == USER_KEYS
    assert body["user"]["id"] == str(user_id) and body["user"]["email"] == EMAIL
    assert body["user"]["phone"] is None and body["user"]["has_password"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["user"]["created_at"])
    [driver] = await fetch(select(Driver))
    assert body["driver"] == {
        "id": str(driver.id),
        "license_number": None,
        "license_expires_on": None,
        "car_title": None,
        "car_plate": None,
        "car_color": None,
    }
    assert list(body["driver"]) == DRIVER_KEYS
    [auth_session] = await fetch(select(AuthSession))
    assert auth_session.app_id == client_app.app_id and auth_session.activation_pending is False
    me = await me_of(client, token["access_token"])
    assert me["data"]["me"] == {"id": str(user_id), "email": EMAIL}


async def test_password_token_without_driver_omits_it_and_email_case_is_ignored(app, client, client_app):
    await make_user(app, phone="+79161112233")
    response = await client.post(
        TOKEN, json={"app_id": client_app.app_id, "email": "FOO@Wheely.com ", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert list(response.json()) == ["token", "user"]
    assert response.json()["user"]["phone"] == "79161112233"


@pytest.mark.parametrize("email,password", [(EMAIL, "wrong-password"), ("nobody@wheely.com", PASSWORD)])
async def test_wrong_password_or_unknown_email_is_the_same_invalid_user(
    app, client, client_app, fetch, email, password
):
    await make_user(app)
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "email": email, "password": password})
    assert response.status_code == 401
    assert response.json() == {"errors": {"invalid_user": ["Bad user"]}}
    assert await fetch(select(AuthSession)) == []


@pytest.mark.settings(password_failures_per_hour=3)
async def test_wrong_passwords_are_capped_per_account_and_right_ones_do_not_count(app, client, client_app, fetch):
    await make_user(app)
    body = {"app_id": client_app.app_id, "email": EMAIL}
    for _ in range(2):
        assert (await client.post(TOKEN, json={**body, "password": PASSWORD})).status_code == 200
    wrong = await asyncio.gather(*(client.post(TOKEN, json={**body, "password": "wrong-guess"}) for _ in range(6)))
    assert sorted(response.status_code for response in wrong) == [401] * 3 + [429] * 3
    refused = await client.post(TOKEN, json={**body, "email": EMAIL.upper(), "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json() == {"errors": {"too_many_requests": ["Too many wrong passwords, try again later"]}}
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    # another account is not held up by this one's guesses
    other = await client.post(TOKEN, json={**body, "email": "other@wheely.com", "password": "wrong-guess"})
    assert other.status_code == 401
    assert len(await fetch(select(AuthSession))) == 2


@pytest.mark.settings(password_failures_per_address=3)
async def test_wrong_passwords_are_capped_per_address_over_every_account(app, client, client_app):
    """Each check costs argon2's ~0.1 s of a core, for unknown accounts too: one address
    may not make the server hash without end by trying a new e-mail each time."""
    await make_user(app)
    body = {"app_id": client_app.app_id, "password": "wrong-guess"}
    statuses = [
        (await client.post(TOKEN, json={**body, "email": f"guess{i}@example.com"})).status_code for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    refused = await client.post(TOKEN, json={**body, "email": EMAIL, "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json() == {"errors": {"too_many_requests": ["Too many wrong passwords, try again later"]}}
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
        assert (await elsewhere.post(TOKEN, json={**body, "email": EMAIL, "password": PASSWORD})).status_code == 200


async def test_a_long_email_is_counted_like_any_other(client, client_app, fetch):
    """The password cap's counter is keyed by a hash: a 312-character address fits, and is not stored."""
    email = "a" * 300 + "@example.com"
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "email": email, "password": PASSWORD})
    assert response.status_code == 401 and response.json() == {"errors": {"invalid_user": ["Bad user"]}}
    [counter] = [row for row in await fetch(select(RateCounter)) if row.key.startswith("password:")]
    assert email not in counter.key and counter.count == 1


async def test_invalid_user_in_russian(app, client, client_app):
    await make_user(app)
    response = await client.post(
        TOKEN,
        json={"app_id": client_app.app_id, "email": EMAIL, "password": "nope-nope"},
        headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
    )
    assert response.json() == {"errors": {"invalid_user": ["Неверный пользователь или пароль"]}}


async def test_outdated_password_hash_is_rehashed_on_sign_in(app, client, client_app, fetch, execute):
    user_id = await make_user(app)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    await execute(update(User).where(User.id == user_id).values(password_hash=weak))
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    [user] = await fetch(select(User))
    assert user.password_hash != weak
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


async def test_admin_users_create_with_driver_works_twice_without_a_second_profile(app, fetch):
    user_id = await make_user(app, driver=True)
    async with app.state.db.session() as session:
        user = await session.get(User, user_id)
        again = await users.add_driver_profile(session, user=user)
        await session.commit()
    [driver] = await fetch(select(Driver))
    assert again.id == driver.id and driver.user_id == user_id


# --- apps --------------------------------------------------------------------------


@pytest.mark.parametrize("app_id", ["55e08577e779891040000001", "x" * 500])
async def test_unknown_app_is_invalid_app(app, client, client_app, deliveries, app_id):
    await make_user(app)
    for body in ({"email": EMAIL, "password": PASSWORD}, {"phone": PHONE}):
        response = await client.post(TOKEN, json={"app_id": app_id, **body})
        assert response.status_code == 401
        assert response.json() == BAD_APP
    assert deliveries.messages == []


async def test_blocked_app_is_invalid_app_in_both_languages(app, client, client_app, deliveries, fetch):
    await make_user(app)
    await block(app, client_app.app_id)
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "email": EMAIL, "password": PASSWORD})
    assert response.status_code == 401 and response.json() == BAD_APP
    response = await client.post(
        TOKEN, json={"app_id": client_app.app_id, "phone": PHONE}, headers={"Accept-Language": "ru"}
    )
    assert response.status_code == 401
    assert response.json() == {"errors": {"invalid_app": ["Неверное приложение"]}}
    assert deliveries.messages == [] and await fetch(select(AuthSession)) == []
    assert [u.email for u in await fetch(select(User))] == [EMAIL]


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,key,message",
    [
        ({"email": EMAIL, "password": PASSWORD}, "app_id", "This field is required"),
        ({"app_id": 5, "email": EMAIL, "password": PASSWORD}, "app_id", "Invalid value"),
        ({"app_id": "APP"}, "email", "Email and password, or phone, are required"),
        (
            {"app_id": "APP", "email": EMAIL, "password": PASSWORD, "phone": PHONE},
            "phone",
            "Send either email and password or phone",
        ),
        ({"app_id": "APP", "password": PASSWORD}, "email", "This field is required"),
        ({"app_id": "APP", "email": EMAIL}, "password", "This field is required"),
        ({"app_id": "APP", "email": "not-an-email", "password": PASSWORD}, "email", "Email must be valid"),
        ({"app_id": "APP", "email": EMAIL, "password": ["x"]}, "password", "Invalid value"),
        (
            {"app_id": "APP", "email": EMAIL, "password": "x" * 1025},
            "password",
            "The password must be at most 1024 characters long",
        ),
        ({"app_id": "APP", "phone": "12345"}, "phone", "Phone number must be valid"),
        ({"app_id": "APP", "phone": -79160000000}, "phone", "Phone number must be valid"),
        ({"app_id": "APP", "phone": "x79160000000"}, "phone", "Phone number must be valid"),
        ({"app_id": "APP", "email": "a\x00b@example.com", "password": PASSWORD}, "email", "Email must be valid"),
        ({"app_id": "APP", "phone": "'; DROP TABLE users; --"}, "phone", "Phone number must be valid"),
        ({"app_id": "APP", "phone": "+12025550143"}, "phone", "Codes cannot be sent to this country"),
    ],
)
async def test_invalid_input_is_400_keyed_by_the_field(client, client_app, deliveries, fetch, body, key, message):
    if body.get("app_id") == "APP":
        body = {**body, "app_id": client_app.app_id}
    response = await client.post(TOKEN, json=body)
    assert response.status_code == 400
    assert response.json() == {"errors": {key: [message]}}
    assert deliveries.messages == [] and await fetch(select(User)) == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b""])
async def test_a_body_that_is_not_a_json_object_is_400(client, raw):
    response = await client.post(TOKEN, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"errors": {"body": ["Invalid JSON"]}}


async def test_validation_messages_in_russian(client, client_app):
    response = await client.post(
        TOKEN, json={"app_id": client_app.app_id, "phone": "12345"}, headers={"Accept-Language": "ru"}
    )
    assert response.json() == {"errors": {"phone": ["Номер телефона должен быть корректным"]}}


# --- phone + PIN ------------------------------------------------------------------


async def test_phone_token_is_inactive_and_a_pin_goes_by_sms(client, client_app, deliveries, fetch):
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE_DIGITS})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token"] and list(body["token"]) == TOKEN_KEYS
    assert body["token"]["activation_needed"] is True and body["token"]["token_type"] == "Bearer"
    [message] = deliveries.to(PHONE)
    assert message.type == "otp.sms" and message.purpose == "token_activation" and message.locale == "en"
    assert re.fullmatch(r"\d{4}", message.code) and message.text == f"Your washgate code: {message.code}"
    assert message.code not in response.text
    [user] = await fetch(select(User))
    assert user.phone == PHONE and user.is_active is False
    [auth_session] = await fetch(select(AuthSession))
    assert auth_session.activation_pending is True and auth_session.app_id == client_app.app_id
    [code] = await fetch(select(VerificationCode))
    assert code.subject == auth_session.id and code.purpose == "token_activation"


async def test_pending_token_is_refused_until_activated(client, client_app, deliveries, fetch):
    token = await phone_token(client, client_app)
    me = await me_of(client, token["access_token"])
    assert me["data"]["me"] is None and me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = await client.post(
        REFRESH,
        json={
            "app_id": client_app.app_id,
            "app_secret": client_app.app_secret,
            "refresh_token": token["refresh_token"],
        },
    )
    assert refused.status_code == 401 and refused.json() == BAD_REFRESH

    response = await client.put(
        ACTIVATE, json={"token": token["access_token"], "pin": int(deliveries.last_code(PHONE))}
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["user"] and list(body["user"]) == USER_KEYS
    assert body["user"]["phone"] == PHONE_DIGITS and body["user"]["has_password"] is False
    [user] = await fetch(select(User))
    assert user.is_active is True and user.activated_at is not None
    me = await me_of(client, token["access_token"])
    assert me["data"]["me"]["id"] == body["user"]["id"]
    # the refresh token, unused while pending, now works with the app's credentials
    refreshed = await client.post(
        REFRESH,
        json={
            "app_id": client_app.app_id,
            "app_secret": client_app.app_secret,
            "refresh_token": token["refresh_token"],
        },
    )
    assert refreshed.status_code == 200
    assert list(refreshed.json()) == ["token"] and list(refreshed.json()["token"]) == TOKEN_KEYS
    assert refreshed.json()["token"]["activation_needed"] is False


@pytest.mark.parametrize("as_number", [True, False])
async def test_pin_is_accepted_as_number_or_string(client, client_app, deliveries, as_number):
    token = await phone_token(client, client_app)
    pin = deliveries.last_code(PHONE)
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": int(pin) if as_number else pin})
    assert response.status_code == 200


@pytest.mark.settings(test_phones=["+79990000001=0042"])
async def test_a_pin_with_leading_zeros_sent_as_a_number(client, client_app, deliveries):
    token = await phone_token(client, client_app, phone="+79990000001")
    assert deliveries.messages == []  # a test phone gets its fixed code, nothing is sent
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": 42})
    assert response.status_code == 200


async def test_an_existing_account_keeps_its_identity(app, client, client_app, deliveries, fetch):
    user_id = await make_user(app, phone=PHONE)
    token = await phone_token(client, client_app)
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": deliveries.last_code(PHONE)})
    assert response.json()["user"]["id"] == str(user_id) and response.json()["user"]["email"] == EMAIL
    assert len(await fetch(select(User))) == 1


async def test_wrong_pin_is_401_invalid_pin_in_both_languages(client, client_app, deliveries):
    token = await phone_token(client, client_app)
    wrong = wrong_code(deliveries.last_code(PHONE))
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": wrong})
    assert response.status_code == 401 and response.json() == WRONG_PIN_EN
    response = await client.put(
        ACTIVATE, json={"token": token["access_token"], "pin": wrong}, headers={"Accept-Language": "en;q=0.3, ru;q=0.9"}
    )
    assert response.status_code == 401 and response.json() == WRONG_PIN_RU


async def test_spent_attempts_refuse_even_the_right_pin(client, client_app, deliveries, fetch):
    token = await phone_token(client, client_app)
    pin = deliveries.last_code(PHONE)
    for _ in range(5):
        assert (
            await client.put(ACTIVATE, json={"token": token["access_token"], "pin": wrong_code(pin)})
        ).status_code == 401
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": pin})
    assert response.status_code == 401 and response.json() == WRONG_PIN_EN
    [auth_session] = await fetch(select(AuthSession))
    assert auth_session.activation_pending is True


async def test_expired_pin_is_invalid_pin(client, client_app, deliveries, execute):
    token = await phone_token(client, client_app)
    await execute(update(VerificationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": deliveries.last_code(PHONE)})
    assert response.status_code == 401 and response.json() == WRONG_PIN_EN


@pytest.mark.settings(phone_lock_failures=3)
async def test_a_locked_phone_answers_429(client, client_app, deliveries):
    token = await phone_token(client, client_app)
    pin = deliveries.last_code(PHONE)
    for _ in range(3):
        await client.put(ACTIVATE, json={"token": token["access_token"], "pin": wrong_code(pin)})
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": pin})
    assert response.status_code == 429
    assert response.json() == {
        "errors": {"too_many_requests": ["Too many wrong codes for this phone, try again later"]}
    }
    assert int(response.headers["Retry-After"]) > 3600


async def test_activating_an_expired_token_is_invalid_token(app, client, client_app, deliveries, fetch):
    await phone_token(client, client_app)
    [auth_session] = await fetch(select(AuthSession))
    expired = encode_access_token(
        app.state.services.keys,
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        now=utcnow() - timedelta(hours=1),
        ttl=900,
    )
    response = await client.put(ACTIVATE, json={"token": expired, "pin": deliveries.last_code(PHONE)})
    assert response.status_code == 401 and response.json() == BAD_TOKEN
    [code] = await fetch(select(VerificationCode))
    assert code.attempts == 0 and code.used_at is None


async def test_activating_a_foreign_token(app, client, client_app, deliveries, fetch):
    mine = await phone_token(client, client_app)
    my_pin = deliveries.last_code(PHONE)
    theirs = await phone_token(client, client_app, phone=OTHER)
    # another phone's token with my PIN: the PIN is not that token's
    response = await client.put(ACTIVATE, json={"token": theirs["access_token"], "pin": my_pin})
    assert response.status_code == 401 and response.json() == WRONG_PIN_EN
    # a token signed by another deployment's key
    auth_session = (await fetch(select(AuthSession).order_by(AuthSession.created_at)))[0]
    forged = encode_access_token(
        Keys.derive("some-other-secret"),
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        now=utcnow(),
        ttl=900,
    )
    for token in (forged, "not-a-jwt", mine["refresh_token"]):
        response = await client.put(ACTIVATE, json={"token": token, "pin": my_pin})
        assert response.status_code == 401 and response.json() == BAD_TOKEN
    assert (await client.put(ACTIVATE, json={"token": mine["access_token"], "pin": my_pin})).status_code == 200


async def test_an_active_token_cannot_be_activated(app, client, client_app, deliveries):
    await make_user(app)
    token = (await client.post(TOKEN, json={"app_id": client_app.app_id, "email": EMAIL, "password": PASSWORD})).json()[
        "token"
    ]
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": "1234"})
    assert response.status_code == 401 and response.json() == BAD_TOKEN


async def test_activating_twice_is_invalid_token(client, client_app, deliveries):
    token = await phone_token(client, client_app)
    body = {"token": token["access_token"], "pin": deliveries.last_code(PHONE)}
    assert (await client.put(ACTIVATE, json=body)).status_code == 200
    again = await client.put(ACTIVATE, json=body, headers={"Accept-Language": "ru"})
    assert again.status_code == 401 and again.json() == {"errors": {"invalid_token": ["Неверный токен"]}}


@pytest.mark.settings(otp_resend_seconds=0)
async def test_a_newer_phone_token_replaces_the_pending_one(client, client_app, deliveries):
    first = await phone_token(client, client_app)
    first_pin = deliveries.last_code(PHONE)
    second = await phone_token(client, client_app)
    response = await client.put(ACTIVATE, json={"token": first["access_token"], "pin": first_pin})
    assert response.status_code == 401 and response.json() == BAD_TOKEN
    assert (
        await client.put(ACTIVATE, json={"token": second["access_token"], "pin": deliveries.last_code(PHONE)})
    ).status_code == 200


@pytest.mark.parametrize(
    "body,key,message",
    [
        ({"pin": "1234"}, "token", "This field is required"),
        ({"token": 12, "pin": "1234"}, "token", "Invalid value"),
        ({"token": "t"}, "pin", "This field is required"),
        ({"token": "t", "pin": "12a4"}, "pin", "Pin must be valid"),
        ({"token": "t", "pin": 12345}, "pin", "Pin must be valid"),
        ({"token": "t", "pin": True}, "pin", "Pin must be valid"),
        ({"token": "t", "pin": -1}, "pin", "Pin must be valid"),
    ],
)
async def test_activation_input_is_validated(client, body, key, message):
    response = await client.put(ACTIVATE, json=body)
    assert response.status_code == 400 and response.json() == {"errors": {key: [message]}}


async def test_a_second_token_within_the_resend_interval_is_429(client, client_app, deliveries, fetch):
    await phone_token(client, client_app)
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE})
    assert response.status_code == 429
    assert response.json() == {"errors": {"too_many_requests": ["A new code can be requested later"]}}
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert len(deliveries.to(PHONE)) == 1
    [auth_session] = await fetch(select(AuthSession))
    assert auth_session.revoked_at is None  # the refused request changed nothing


async def test_a_failed_sms_is_502_and_leaves_nothing_usable(client, client_app, deliveries, fetch):
    deliveries.failing = True
    response = await client.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE})
    assert response.status_code == 502
    assert response.json() == {"errors": {"delivery_failed": ["The code could not be delivered, try again"]}}
    [auth_session] = await fetch(select(AuthSession))
    assert auth_session.revoked_at is not None
    assert [code.revoked_at is not None for code in await fetch(select(VerificationCode))] == [True]
    assert (await client.post(f"/auto_call/{PHONE_DIGITS}")).status_code == 404
    deliveries.failing = False
    assert (await client.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE})).status_code == 200


# --- robot call -------------------------------------------------------------------


async def test_robot_call_replaces_the_pin(client, client_app, deliveries, fetch):
    token = await phone_token(client, client_app)
    sms_pin = deliveries.last_code(PHONE)
    response = await client.post(f"/auto_call/{PHONE_DIGITS}", headers={"Accept-Language": "ru"})
    assert response.status_code == 200 and response.json() == {}
    _sms, call = deliveries.to(PHONE)
    assert call.type == "otp.voice" and call.purpose == "token_activation" and call.locale == "ru"
    assert call.text == "Ваш код: " + " ".join(call.code)
    old = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": sms_pin})
    if sms_pin != call.code:
        assert old.status_code == 401 and old.json() == WRONG_PIN_EN
    response = await client.put(ACTIVATE, json={"token": token["access_token"], "pin": call.code})
    assert response.status_code == 200


async def test_robot_call_without_a_pending_pin_is_404(app, client, client_app, deliveries):
    response = await client.post(f"/auto_call/{PHONE_DIGITS}")
    assert response.status_code == 404 and response.json() == NOT_FOUND
    await make_user(app, phone=PHONE)
    response = await client.post(f"/auto_call/{PHONE_DIGITS}", headers={"Accept-Language": "ru"})
    assert response.status_code == 404 and response.json() == {"errors": {"entity_not_found": ["Не найдено"]}}
    assert deliveries.messages == []


async def test_robot_call_after_activation_or_expiry_is_404(client, client_app, deliveries, execute):
    token = await phone_token(client, client_app)
    await client.put(ACTIVATE, json={"token": token["access_token"], "pin": deliveries.last_code(PHONE)})
    assert (await client.post(f"/auto_call/{PHONE_DIGITS}")).status_code == 404
    await phone_token(client, client_app, phone=OTHER)
    await execute(update(AuthSession).values(created_at=utcnow() - timedelta(hours=1)))
    assert (await client.post(f"/auto_call/{OTHER.lstrip('+')}")).status_code == 404


async def test_robot_call_twice_within_the_interval_is_429(client, client_app, deliveries):
    await phone_token(client, client_app)
    assert (await client.post(f"/auto_call/{PHONE_DIGITS}")).status_code == 200
    response = await client.post(f"/auto_call/{PHONE_DIGITS}")
    assert response.status_code == 429 and "too_many_requests" in response.json()["errors"]
    assert "Retry-After" in response.headers
    assert [m.type for m in deliveries.to(PHONE)] == ["otp.sms", "otp.voice"]


async def test_robot_call_to_a_bad_phone_is_400(client):
    response = await client.post("/auto_call/12345")
    assert response.status_code == 400
    assert response.json() == {"errors": {"phone": ["Phone number must be valid"]}}


# --- refresh ----------------------------------------------------------------------


async def password_tokens(app, client, creds):
    await make_user(app)
    response = await client.post(TOKEN, json={"app_id": creds.app_id, "email": EMAIL, "password": PASSWORD})
    return response.json()["token"]


async def test_refresh_rotates_and_reuse_ends_the_session(app, client, client_app):
    token = await password_tokens(app, client, client_app)
    creds = {"app_id": client_app.app_id, "app_secret": client_app.app_secret}
    response = await client.post(REFRESH, json={**creds, "refresh_token": token["refresh_token"]})
    assert response.status_code == 200
    fresh = response.json()["token"]
    assert list(fresh) == TOKEN_KEYS and fresh["refresh_token"] != token["refresh_token"]
    assert (await me_of(client, fresh["access_token"]))["data"]["me"]["email"] == EMAIL
    reused = await client.post(REFRESH, json={**creds, "refresh_token": token["refresh_token"]})
    assert reused.status_code == 401 and reused.json() == BAD_REFRESH
    assert (await client.post(REFRESH, json={**creds, "refresh_token": fresh["refresh_token"]})).status_code == 401
    assert (await me_of(client, fresh["access_token"]))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_refresh_with_the_wrong_apps_secret_is_invalid_app(app, client, client_app, other_app, fetch):
    token = await password_tokens(app, client, client_app)
    response = await client.post(
        REFRESH,
        json={"app_id": client_app.app_id, "app_secret": other_app.app_secret, "refresh_token": token["refresh_token"]},
    )
    assert response.status_code == 401 and response.json() == BAD_APP
    # another app's valid credentials do not refresh this app's token either
    response = await client.post(
        REFRESH,
        json={"app_id": other_app.app_id, "app_secret": other_app.app_secret, "refresh_token": token["refresh_token"]},
    )
    assert response.status_code == 401 and response.json() == BAD_REFRESH
    assert all(row.used_at is None for row in await fetch(select(RefreshToken)))


async def test_refresh_for_a_blocked_app_is_invalid_app(app, client, client_app):
    token = await password_tokens(app, client, client_app)
    await block(app, client_app.app_id)
    response = await client.post(
        REFRESH,
        json={
            "app_id": client_app.app_id,
            "app_secret": client_app.app_secret,
            "refresh_token": token["refresh_token"],
        },
        headers={"Accept-Language": "ru"},
    )
    assert response.status_code == 401 and response.json() == {"errors": {"invalid_app": ["Неверное приложение"]}}


async def test_blocking_an_app_ends_its_access_tokens_at_once(app, client, client_app):
    token = await password_tokens(app, client, client_app)
    assert (await me_of(client, token["access_token"]))["data"]["me"] is not None
    await block(app, client_app.app_id)
    result = await me_of(client, token["access_token"])
    assert result["data"]["me"] is None
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_issued_without_an_app_does_not_refresh_here(client, client_app, deliveries):
    await client.post("/api/v2/auth/send/otp", json={"phone": PHONE})
    registered = await client.post(
        "/api/v2/auth/register",
        json={
            "phone": PHONE,
            "otp": deliveries.last_code(PHONE),
            "isTermsAccepted": True,
            "isPromoTermsAccepted": False,
        },
    )
    refresh_token = registered.json()["data"]["tokens"]["refreshToken"]
    response = await client.post(
        REFRESH, json={"app_id": client_app.app_id, "app_secret": client_app.app_secret, "refresh_token": refresh_token}
    )
    assert response.status_code == 401 and response.json() == BAD_REFRESH


@pytest.mark.parametrize(
    "missing,key", [("app_id", "app_id"), ("app_secret", "app_secret"), ("refresh_token", "refresh_token")]
)
async def test_refresh_input_is_validated(client, client_app, missing, key):
    body = {"app_id": client_app.app_id, "app_secret": client_app.app_secret, "refresh_token": "x"}
    del body[missing]
    response = await client.post(REFRESH, json=body)
    assert response.status_code == 400 and response.json() == {"errors": {key: ["This field is required"]}}


async def test_refresh_of_a_deleted_account_is_invalid_refresh_token(app, client, client_app, execute):
    token = await password_tokens(app, client, client_app)
    async with app.state.db.session() as session:
        [user_id] = (await session.exec(select(User.id))).all()
    async with app.state.db.session() as session:
        assert await users.delete_user(session, user_id=user_id)
    response = await client.post(
        REFRESH,
        json={
            "app_id": client_app.app_id,
            "app_secret": client_app.app_secret,
            "refresh_token": token["refresh_token"],
        },
    )
    assert response.status_code == 401 and response.json() == BAD_REFRESH


# --- request-level errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,status,key,message",
    [
        ("POST", "/auth/oauth/nowhere", 404, "entity_not_found", "Not found"),
        ("POST", "/auto_call", 404, "entity_not_found", "Not found"),
        ("POST", "/auth/oauth", 404, "entity_not_found", "Not found"),
        ("GET", TOKEN, 405, "method_not_allowed", "Method not allowed"),
        ("POST", ACTIVATE, 405, "method_not_allowed", "Method not allowed"),
        ("GET", "/auto_call/79161234567", 405, "method_not_allowed", "Method not allowed"),
    ],
)
async def test_request_level_errors_keep_the_shape(client, method, path, status, key, message):
    response = await client.request(method, path)
    assert response.status_code == status
    assert response.json() == {"errors": {key: [message]}}


async def test_a_body_over_the_limit_is_413(client):
    response = await client.post(
        TOKEN, content=b"{" + b" " * 1_100_000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"errors": {"payload_too_large": ["Payload too large"]}}


async def test_request_level_errors_in_russian(client):
    response = await client.get(TOKEN, headers={"Accept-Language": "ru"})
    assert response.json() == {"errors": {"method_not_allowed": ["Метод не поддерживается"]}}


async def test_unexpected_errors_are_500_internal_error(app, client_app, monkeypatch):
    async def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(oauth_tokens, "create_token", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(TOKEN, json={"app_id": client_app.app_id, "phone": PHONE})
    assert response.status_code == 500
    assert response.json() == {"errors": {"internal_error": ["Internal server error"]}}


async def test_client_app_rows_keep_only_hashes(client_app, fetch):
    [row] = await fetch(select(ClientApp))
    assert client_app.app_secret not in row.secret_hash and re.fullmatch(r"[0-9a-f]{24}", row.app_id)
