"""GraphQL identity: sendOtp, login, register, refreshTokens, logout, changePhone, me."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from models import AuthSession, Phone, User, VerificationCode
from tests.support import gql, wrong_code

PHONE = "+79161234567"
OTHER = "+79167654321"

SEND_OTP = """
mutation SendOtp($phone: String!, $channel: OtpChannel! = SMS) {
  sendOtp(input: {phone: $phone, channel: $channel}) {
    __typename
    ... on OtpSent { phone nextCodeAvailableAt codeLength }
    ... on Error { code message }
    ... on ValidationError { field }
    ... on RateLimitedError { retryAt }
  }
}"""
LOGIN = """
mutation Login($phone: String!, $otp: String!) {
  login(input: {phone: $phone, otp: $otp}) {
    __typename
    ... on AuthSuccess { user { id name phone { number masked } } tokens { accessToken refreshToken expiresIn } }
    ... on RegistrationRequired { phone }
    ... on Error { code message }
    ... on InvalidCodeError { attemptsLeft }
    ... on RateLimitedError { retryAt }
  }
}"""
REGISTER = """
mutation Register($phone: String!, $otp: String!, $name: String) {
  register(input: {phone: $phone, otp: $otp, termsAccepted: true, promoTermsAccepted: false, name: $name}) {
    __typename
    ... on AuthSuccess { user { id name } tokens { accessToken refreshToken expiresIn } }
    ... on Error { code message }
  }
}"""
REFRESH = """
mutation Refresh($token: String!) {
  refreshTokens(input: {refreshToken: $token}) {
    __typename
    ... on TokenPair { accessToken refreshToken expiresIn }
    ... on Error { code message }
  }
}"""
LOGOUT = """
mutation Logout($token: String) {
  logout(input: {refreshToken: $token}) { __typename ... on LoggedOut { revoked } ... on Error { code } }
}"""
CHANGE_PHONE = """
mutation ChangePhone($phone: String!, $otp: String!) {
  changePhone(input: {phone: $phone, otp: $otp}) {
    __typename
    ... on AccountPhoneChanged { user { phone { number } phones { number verifiedAt } } }
    ... on Error { code message }
  }
}"""
ME = """query Me {
  me { id name email phone { id number masked verifiedAt boundAt } phones { number } cards { number balance } }
}"""


async def sign_up(client, deliveries, phone=PHONE, name=None):
    sent = await gql(client, SEND_OTP, {"phone": phone})
    assert sent["data"]["sendOtp"]["__typename"] == "OtpSent"
    result = await gql(client, REGISTER, {"phone": phone, "otp": deliveries.last_code(phone), "name": name})
    assert result["data"]["register"]["__typename"] == "AuthSuccess", result
    return result["data"]["register"]


async def test_send_otp_returns_when_the_next_code_is_available(client, deliveries):
    result = await gql(client, SEND_OTP, {"phone": "8 (916) 123-45-67"})
    sent = result["data"]["sendOtp"]
    assert sent["__typename"] == "OtpSent"
    assert sent["phone"] == PHONE and sent["codeLength"] == 4
    assert deliveries.to(PHONE)[0].purpose == "auth"


async def test_send_otp_by_voice_and_flash_call(client, deliveries):
    await gql(client, SEND_OTP, {"phone": PHONE, "channel": "VOICE"})
    await gql(client, SEND_OTP, {"phone": PHONE, "channel": "FLASH_CALL"})
    voice, flash = deliveries.to(PHONE)
    assert voice.type == "otp.voice" and " ".join(voice.code) in voice.text
    assert flash.type == "otp.flash_call" and flash.caller_id == "7487260" + flash.code


async def test_bad_phone_is_a_validation_error_on_phone(client, deliveries):
    result = await gql(client, SEND_OTP, {"phone": "+77011234567"})
    error = result["data"]["sendOtp"]
    assert error["__typename"] == "ValidationError"
    assert error["code"] == "VALIDATION_FAILED" and error["field"] == "phone"
    assert deliveries.messages == []


async def test_resend_too_soon_is_rate_limited_with_retry_at(client, deliveries):
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, SEND_OTP, {"phone": PHONE})
    error = result["data"]["sendOtp"]
    assert error["__typename"] == "RateLimitedError" and error["code"] == "RATE_LIMITED"
    assert error["retryAt"]
    assert len(deliveries.messages) == 1


async def test_failed_delivery_is_delivery_failed(client, deliveries):
    deliveries.failing = True
    result = await gql(client, SEND_OTP, {"phone": PHONE})
    assert result["data"]["sendOtp"]["code"] == "DELIVERY_FAILED"


async def test_register_login_me_refresh_logout(client, deliveries):
    registered = await sign_up(client, deliveries, name="Анна")
    assert registered["user"]["name"] == "Анна"
    tokens = registered["tokens"]
    assert tokens["expiresIn"] == 900

    me = await gql(client, ME, token=tokens["accessToken"])
    assert me["data"]["me"]["phone"]["number"] == PHONE
    assert me["data"]["me"]["phone"]["masked"] == "+7 916 ***-**-67"
    assert me["data"]["me"]["cards"] == [{"number": "79161234567", "balance": 0}]

    refreshed = (await gql(client, REFRESH, {"token": tokens["refreshToken"]}))["data"]["refreshTokens"]
    assert refreshed["__typename"] == "TokenPair"
    assert refreshed["refreshToken"] != tokens["refreshToken"]
    again = (await gql(client, REFRESH, {"token": tokens["refreshToken"]}))["data"]["refreshTokens"]
    assert again["__typename"] == "OperationError" and again["code"] == "INVALID_REFRESH_TOKEN"
    # reuse revoked the family: the access tokens of that session stop working
    me = await gql(client, ME, token=refreshed["accessToken"])
    assert me["data"]["me"] is None and me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_logout_ends_the_session_at_once(client, deliveries):
    tokens = (await sign_up(client, deliveries))["tokens"]
    result = await gql(client, LOGOUT, {"token": None}, token=tokens["accessToken"])
    assert result["data"]["logout"] == {"__typename": "LoggedOut", "revoked": True}
    me = await gql(client, ME, token=tokens["accessToken"])
    assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = (await gql(client, REFRESH, {"token": tokens["refreshToken"]}))["data"]["refreshTokens"]
    assert refreshed["code"] == "INVALID_REFRESH_TOKEN"


@pytest.mark.settings(otp_resend_seconds=0)
async def test_logout_with_a_refresh_token_ends_that_session_and_only_with_its_secret(client, deliveries):
    first = (await sign_up(client, deliveries))["tokens"]
    await gql(client, SEND_OTP, {"phone": PHONE})
    login = (await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)}))["data"]["login"]
    second = login["tokens"]
    token_id = second["refreshToken"].split(".", 1)[0]
    for forged in (f"{token_id}.not-its-secret", token_id, second["refreshToken"] + "x"):
        result = await gql(client, LOGOUT, {"token": forged}, token=first["accessToken"])
        assert result["data"]["logout"] == {"__typename": "OperationError", "code": "INVALID_REFRESH_TOKEN"}
    assert (await gql(client, ME, token=second["accessToken"]))["data"]["me"] is not None
    result = await gql(client, LOGOUT, {"token": second["refreshToken"]}, token=first["accessToken"])
    assert result["data"]["logout"] == {"__typename": "LoggedOut", "revoked": True}
    assert (await gql(client, ME, token=second["accessToken"]))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql(client, ME, token=first["accessToken"]))["data"]["me"] is not None


async def test_logout_without_token_is_unauthenticated(client):
    result = await gql(client, LOGOUT, {"token": None})
    assert result["data"]["logout"] == {"__typename": "OperationError", "code": "UNAUTHENTICATED"}


async def test_me_is_null_when_anonymous_and_an_error_for_a_bad_token(client):
    assert (await gql(client, ME))["data"] == {"me": None}
    for header in ("Bearer not-a-jwt", "Bearer ", "Basic abc"):
        result = await gql(client, ME, headers={"Authorization": header})
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", header


async def test_oauth_scheme_is_accepted(client, deliveries):
    tokens = (await sign_up(client, deliveries))["tokens"]
    result = await gql(client, ME, headers={"Authorization": f"OAuth {tokens['accessToken']}"})
    assert result["data"]["me"]["phone"]["number"] == PHONE


async def test_login_without_account_asks_to_register(client, deliveries):
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert result["data"]["login"] == {"__typename": "RegistrationRequired", "phone": PHONE}


@pytest.mark.settings(otp_resend_seconds=0)
async def test_login_with_account(client, deliveries):
    await sign_up(client, deliveries)
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert result["data"]["login"]["__typename"] == "AuthSuccess"
    assert result["data"]["login"]["user"]["phone"]["number"] == PHONE


@pytest.mark.settings(otp_resend_seconds=0)
async def test_cards_asked_for_on_sign_in_are_read_then(client, deliveries):
    """Signing in over GraphQL does not read the cards unless the selection asks for them."""
    with_cards = """
    mutation Register($phone: String!, $otp: String!) {
      register(input: {phone: $phone, otp: $otp, termsAccepted: true}) {
        ... on AuthSuccess { user { cards { number balance } } }
      }
    }"""
    await gql(client, SEND_OTP, {"phone": PHONE})
    registered = await gql(client, with_cards, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert registered["data"]["register"] == {"user": {"cards": [{"number": "79161234567", "balance": 0}]}}
    await gql(client, SEND_OTP, {"phone": PHONE})
    login = with_cards.replace("Register", "Login").replace("register(", "login(").replace(", termsAccepted: true", "")
    signed_in = await gql(client, login, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert signed_in["data"]["login"] == {"user": {"cards": [{"number": "79161234567", "balance": 0}]}}


async def test_wrong_codes_count_down_then_exhaust(client, deliveries):
    await gql(client, SEND_OTP, {"phone": PHONE})
    code = deliveries.last_code(PHONE)
    for left in (4, 3, 2, 1, 0):
        error = (await gql(client, LOGIN, {"phone": PHONE, "otp": wrong_code(code)}))["data"]["login"]
        assert error["__typename"] == "InvalidCodeError"
        assert error["code"] == "INVALID_OTP" and error["attemptsLeft"] == left
    error = (await gql(client, LOGIN, {"phone": PHONE, "otp": code}))["data"]["login"]
    assert error["__typename"] == "RateLimitedError" and error["code"] == "ATTEMPTS_EXHAUSTED"
    assert error["retryAt"]


async def test_expired_code_is_invalid_with_no_attempts_left(client, deliveries, execute):
    from datetime import UTC, datetime

    from sqlmodel import update

    await gql(client, SEND_OTP, {"phone": PHONE})
    await execute(update(VerificationCode).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    error = (await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)}))["data"]["login"]
    assert error == {
        "__typename": "InvalidCodeError",
        "code": "INVALID_OTP",
        "message": "The code is incorrect",
        "attemptsLeft": 0,
    }


@pytest.mark.settings(otp_resend_seconds=0, phone_lock_failures=7)
async def test_phone_lock_survives_resends(client, deliveries):
    for _ in range(2):
        await gql(client, SEND_OTP, {"phone": PHONE})
        code = deliveries.last_code(PHONE)
        for _ in range(4):
            await gql(client, LOGIN, {"phone": PHONE, "otp": wrong_code(code)})
    # 8 wrong codes in a row across two codes: locked, even for a fresh right code
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    error = result["data"]["login"]
    assert error["__typename"] == "RateLimitedError" and error["code"] == "RATE_LIMITED"


@pytest.mark.settings(otp_resend_seconds=0, phone_lock_failures=3)
async def test_a_used_right_code_sent_again_is_refused_but_never_locks_the_phone(client, deliveries, fetch):
    from models import PhoneLock

    await sign_up(client, deliveries)
    used = deliveries.last_code(PHONE)
    for _ in range(5):  # a double tap, a client retrying a request that did succeed
        again = (await gql(client, LOGIN, {"phone": PHONE, "otp": used}))["data"]["login"]
        assert again["__typename"] == "InvalidCodeError" and again["attemptsLeft"] == 0
    assert [(lock.failures, lock.locked_until) for lock in await fetch(select(PhoneLock))] in ([], [(0, None)])
    await gql(client, SEND_OTP, {"phone": PHONE})
    fresh = deliveries.last_code(PHONE)
    assert (await gql(client, LOGIN, {"phone": PHONE, "otp": fresh}))["data"]["login"]["__typename"] == "AuthSuccess"
    # a wrong code after the used one still counts
    for _ in range(3):
        await gql(client, LOGIN, {"phone": PHONE, "otp": wrong_code(fresh)})
    [lock] = await fetch(select(PhoneLock))
    assert lock.failures == 3 and lock.locked_until is not None


@pytest.mark.settings(otp_resend_seconds=0, phone_lock_failures=2)
async def test_parallel_taps_of_one_right_code_register_once_and_lock_nothing(client, deliveries, fetch):
    from models import PhoneLock

    await gql(client, SEND_OTP, {"phone": PHONE})
    code = deliveries.last_code(PHONE)
    results = await asyncio.gather(*(gql(client, REGISTER, {"phone": PHONE, "otp": code}) for _ in range(8)))
    kinds = sorted(result["data"]["register"]["__typename"] for result in results)
    assert kinds.count("AuthSuccess") == 1 and set(kinds) <= {"AuthSuccess", "InvalidCodeError"}, kinds
    assert [(lock.failures, lock.locked_until) for lock in await fetch(select(PhoneLock))] in ([], [(0, None)])
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, LOGIN, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert result["data"]["login"]["__typename"] == "AuthSuccess"


@pytest.mark.settings(otp_max_attempts=10, phone_lock_failures=2)
async def test_a_burst_of_wrong_codes_is_stopped_by_the_phone_lock(client, deliveries, fetch):
    from models import PhoneLock

    await gql(client, SEND_OTP, {"phone": PHONE})
    wrong = wrong_code(deliveries.last_code(PHONE))
    results = await asyncio.gather(*(gql(client, LOGIN, {"phone": PHONE, "otp": wrong}) for _ in range(10)))
    kinds = sorted(result["data"]["login"]["__typename"] for result in results)
    assert kinds == ["InvalidCodeError"] * 2 + ["RateLimitedError"] * 8
    [lock] = await fetch(select(PhoneLock))
    assert lock.failures == 2 and lock.locked_until is not None
    [row] = await fetch(select(VerificationCode))
    assert row.attempts == 2


@pytest.mark.settings(test_phones=["+79990000001=1234"])
async def test_test_phone_gets_its_fixed_code_and_nothing_is_sent(client, deliveries):
    sent = (await gql(client, SEND_OTP, {"phone": "+79990000001"}))["data"]["sendOtp"]
    assert sent["__typename"] == "OtpSent"
    assert deliveries.messages == []
    first = await gql(client, REGISTER, {"phone": "+79990000001", "otp": "1234"})
    assert first["data"]["register"]["__typename"] == "AuthSuccess"
    # not used up: it works again, also without a send
    again = await gql(client, LOGIN, {"phone": "+79990000001", "otp": "1234"})
    assert again["data"]["login"]["__typename"] == "AuthSuccess"
    wrong = await gql(client, LOGIN, {"phone": "+79990000001", "otp": "4321"})
    assert wrong["data"]["login"]["__typename"] == "InvalidCodeError"


@pytest.mark.settings(otp_resend_seconds=0)
async def test_change_phone(client, deliveries, fetch):
    tokens = (await sign_up(client, deliveries))["tokens"]
    await gql(client, SEND_OTP, {"phone": OTHER})
    result = await gql(
        client, CHANGE_PHONE, {"phone": OTHER, "otp": deliveries.last_code(OTHER)}, token=tokens["accessToken"]
    )
    changed = result["data"]["changePhone"]
    assert changed["__typename"] == "AccountPhoneChanged"
    assert changed["user"]["phone"]["number"] == OTHER
    assert [p["number"] for p in changed["user"]["phones"]] == [PHONE, OTHER]
    [user] = await fetch(select(User))
    assert user.phone == OTHER


async def test_change_phone_of_an_account_deleted_meanwhile_is_unauthenticated(app, client, deliveries):
    from resolvers import otp_auth, sessions, users
    from resolvers.errors import DomainError, ErrorCode

    tokens = (await sign_up(client, deliveries))["tokens"]
    await gql(client, SEND_OTP, {"phone": OTHER})
    db, services = app.state.db, app.state.services
    async with db.session() as session:
        viewer = await sessions.authenticate(session, services=services, token=tokens["accessToken"])
    async with db.session() as session:  # the account goes between the token check and the change
        assert await users.delete_user(session, user_id=viewer.user.id)
    with pytest.raises(DomainError) as refused:
        async with db.session() as session:
            await otp_auth.change_phone(
                session=session, services=services, viewer=viewer, phone=OTHER, otp=deliveries.last_code(OTHER)
            )
    assert refused.value.code is ErrorCode.UNAUTHENTICATED


@pytest.mark.settings(otp_resend_seconds=0)
async def test_change_phone_to_another_accounts_phone_is_refused(client, deliveries, fetch):
    tokens = (await sign_up(client, deliveries))["tokens"]
    await sign_up(client, deliveries, phone=OTHER)
    await gql(client, SEND_OTP, {"phone": OTHER})
    result = await gql(
        client, CHANGE_PHONE, {"phone": OTHER, "otp": deliveries.last_code(OTHER)}, token=tokens["accessToken"]
    )
    assert result["data"]["changePhone"]["code"] == "ACCOUNT_EXISTS"
    assert len(await fetch(select(Phone).where(Phone.number == OTHER))) == 1


async def test_change_phone_takes_the_number_from_an_account_nobody_activated(app, client, deliveries, fetch):
    from resolvers import apps

    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name="Driver app")
    # anyone who knows an app id can ask for a phone token: an inactive account holds OTHER
    squat = await client.post("/auth/oauth/token", json={"app_id": creds.app_id, "phone": OTHER})
    assert squat.status_code == 200
    tokens = (await sign_up(client, deliveries))["tokens"]
    await gql(client, SEND_OTP, {"phone": OTHER})
    result = await gql(
        client, CHANGE_PHONE, {"phone": OTHER, "otp": deliveries.last_code(OTHER)}, token=tokens["accessToken"]
    )
    assert result["data"]["changePhone"]["__typename"] == "AccountPhoneChanged"
    holders = await fetch(select(User).where(User.phone == OTHER))
    assert [(user.is_active, user.name) for user in holders] == [(True, "Новый пользователь")]
    inactive = await fetch(select(User).where(User.is_active.is_(False)))
    assert [user.phone for user in inactive] == [None]


@pytest.mark.settings(otp_resend_seconds=0)
async def test_parallel_logins_with_one_code_open_one_session(client, deliveries, fetch):
    await sign_up(client, deliveries)
    sessions_before = len(await fetch(select(AuthSession)))
    await gql(client, SEND_OTP, {"phone": PHONE})
    code = deliveries.last_code(PHONE)
    results = await asyncio.gather(*[gql(client, LOGIN, {"phone": PHONE, "otp": code}) for _ in range(20)])
    kinds = [r["data"]["login"]["__typename"] for r in results]
    assert kinds.count("AuthSuccess") == 1
    assert len(await fetch(select(AuthSession))) == sessions_before + 1


@pytest.mark.settings(test_phones=["+79990000001=1234"], phone_lock_failures=100)
async def test_a_test_phones_fixed_code_does_not_outlive_spent_attempts(client, deliveries):
    sent = (await gql(client, SEND_OTP, {"phone": "+79990000001"}))["data"]["sendOtp"]
    assert sent["__typename"] == "OtpSent"
    for _ in range(5):
        wrong = await gql(client, LOGIN, {"phone": "+79990000001", "otp": "4321"})
        assert wrong["data"]["login"]["__typename"] == "InvalidCodeError"
    result = (await gql(client, LOGIN, {"phone": "+79990000001", "otp": "1234"}))["data"]["login"]
    assert result["__typename"] == "RateLimitedError" and result["code"] == "ATTEMPTS_EXHAUSTED"


async def test_register_without_accepting_the_terms_names_the_input_field(client, deliveries, fetch):
    unaccepted = """
    mutation Register($phone: String!, $otp: String!) {
      register(input: {phone: $phone, otp: $otp, termsAccepted: false}) {
        __typename
        ... on ValidationError { code message field }
      }
    }"""
    await gql(client, SEND_OTP, {"phone": PHONE})
    result = await gql(client, unaccepted, {"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert result["data"]["register"] == {
        "__typename": "ValidationError",
        "code": "VALIDATION_FAILED",
        "message": "Terms must be accepted",
        "field": "termsAccepted",
    }
    assert await fetch(select(User)) == []
