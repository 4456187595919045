"""Housekeeping (`washgate purge`): rows past their time go, everything live stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.clock import utcnow
from models import Cooldown, RateCounter, RefreshToken, VerificationCode
from resolvers import apps
from resolvers.callup import PURPOSE as CALLUP_PURPOSE
from resolvers.retention import purge_expired

SEND, REGISTER = "/api/v2/auth/send/otp", "/api/v2/auth/register"
LOGIN, REFRESH = "/api/v2/auth/login", "/api/v2/auth/refresh"
PHONE = "+79161234567"
NOTHING = {"rate_counters": 0, "cooldowns": 0, "verification_codes": 0, "refresh_tokens": 0}


async def signed_up(client, deliveries, phone: str = PHONE) -> dict:
    assert (await client.post(SEND, json={"phone": phone})).status_code == 201
    body = {"phone": phone, "otp": deliveries.last_code(phone), "isTermsAccepted": True, "isPromoTermsAccepted": False}
    response = await client.post(REGISTER, json=body)
    assert response.status_code == 201
    return response.json()["data"]


async def counts(fetch) -> dict[str, int]:
    tables = {
        "rate_counters": RateCounter,
        "cooldowns": Cooldown,
        "verification_codes": VerificationCode,
        "refresh_tokens": RefreshToken,
    }
    return {name: (await fetch(select(func.count()).select_from(model)))[0][0] for name, model in tables.items()}


async def test_nothing_live_is_purged(app, client, deliveries, fetch):
    await signed_up(client, deliveries)
    before = await counts(fetch)
    assert all(before.values())
    assert await purge_expired(db=app.state.db, now=utcnow()) == NOTHING
    assert await counts(fetch) == before


@pytest.mark.settings(refresh_token_ttl_seconds=3600)
async def test_everything_past_its_time_goes_but_callup_codes_and_accounts_stay(app, client, deliveries, fetch):
    data = await signed_up(client, deliveries)
    async with app.state.db.session() as session:
        creds = await apps.create_app(session, services=app.state.services, name="shop")
    headers = {"X-Application-Token": creds.app_token}
    assert (await client.post("/v1/orders", json={"phone": "79161234568"}, headers=headers)).status_code == 200
    before = await counts(fetch)

    purged = await purge_expired(db=app.state.db, now=utcnow() + timedelta(days=8))

    assert purged == {**before, "verification_codes": before["verification_codes"] - 1}
    assert await counts(fetch) == {**NOTHING, "verification_codes": 1}
    assert [row[0] for row in await fetch(select(VerificationCode.purpose))] == [CALLUP_PURPOSE]
    # the account still signs in; the sign-in's limits and tokens start afresh
    assert (await client.post(SEND, json={"phone": PHONE})).status_code == 201
    login = await client.post(LOGIN, json={"phone": PHONE, "otp": deliveries.last_code(PHONE)})
    assert login.status_code == 200 and login.json()["data"]["client"]["phone"] == PHONE.lstrip("+")
    # the purged refresh token is refused as any unknown one
    refused = await client.get(REFRESH, params={"refreshToken": data["tokens"]["refreshToken"]})
    assert refused.status_code == 401 and refused.json()["code"] == 5


@pytest.mark.settings(otp_resend_seconds=0)
async def test_rows_are_purged_in_batches_until_none_is_left(app, client, deliveries, fetch):
    for i in range(5):
        assert (await client.post(SEND, json={"phone": f"+7916123450{i}"})).status_code == 201
    before = await counts(fetch)
    assert before["verification_codes"] == 5 and before["cooldowns"] == 5

    purged = await purge_expired(db=app.state.db, now=utcnow() + timedelta(days=8), batch=2)

    assert purged["verification_codes"] == 5 and purged["cooldowns"] == 5
    assert purged["rate_counters"] == before["rate_counters"]
    assert await counts(fetch) == NOTHING
