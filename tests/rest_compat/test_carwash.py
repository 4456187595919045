"""Seed 000 under /carwashes/1.x: exact statuses and bodies, every error, the whole flow."""

from __future__ import annotations

import asyncio
from argparse import Namespace
from datetime import timedelta

import orjson
import pytest
from sqlmodel import select, update
from starlette.requests import Request

from core.clock import utcnow
from models import CarwashOrder, Phone, ServiceToken
from resolvers import carwash, service_tokens, sessions, users
from resolvers.errors import DomainError, InvalidCode, RateLimited
from rest_compat.carwash import render_domain_error
from tests.carwash_helpers import (
    BASE,
    CARWASH_ID,
    PHONE_A,
    PHONE_B,
    PRICE,
    activate,
    add_carwash,
    bearer,
    new_service_token,
    order_body,
    pay,
    phone_id_of,
    place_order,
    signed_up,
    user_auth,
)
from washgate import admin
from washgate.admin import AdminError

PHONE, ORDER, ACTIVE, USED = f"{BASE}/user/phone", f"{BASE}/order", f"{BASE}/order/active", f"{BASE}/order/used"
EN = {"Accept-Language": "en"}


@pytest.fixture
async def user_a(app, client, deliveries):
    await add_carwash(app)
    return await signed_up(client, deliveries, PHONE_A)


@pytest.fixture
async def service(app):
    _, token = await new_service_token(app)
    return token


async def only_order(fetch) -> CarwashOrder:
    [order] = await fetch(select(CarwashOrder))
    return order


# --- GET /user/phone -------------------------------------------------------


async def test_user_phone_answers_the_masked_phone_and_its_id(client, fetch, user_a):
    response = await client.get(PHONE, headers=user_auth(user_a))
    assert response.status_code == 200
    [phone] = await fetch(select(Phone).where(Phone.number == PHONE_A))
    assert response.json() == {"masked_phone": "+7 999 ***-**-33", "phone_id": str(phone.id)}


async def test_user_phone_accepts_bearer_as_well(client, user_a):
    response = await client.get(PHONE, headers=bearer(user_a))
    assert response.status_code == 200 and response.json()["masked_phone"] == "+7 999 ***-**-33"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "OAuth"}, {"Authorization": "OAuth not-a-token"}, {"Authorization": "Basic abc"}],
)
async def test_user_phone_without_a_valid_token_is_401(client, user_a, headers):
    response = await client.get(PHONE, headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert set(response.json()) == {"code", "message"}


async def test_user_phone_401_message_is_russian_by_default_and_english_on_request(client, user_a):
    russian = await client.get(PHONE)
    english = await client.get(PHONE, headers=EN)
    assert russian.json() == {"code": "UNAUTHENTICATED", "message": "Требуется авторизация"}
    assert english.json() == {"code": "UNAUTHENTICATED", "message": "Authentication required"}


async def test_a_service_token_is_not_a_user_token(client, user_a, service):
    response = await client.get(PHONE, headers=user_auth(service))
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


async def test_a_logged_out_session_is_401(app, client, user_a):
    async with app.state.db.session() as session:
        viewer = await sessions.authenticate(session, services=app.state.services, token=user_a)
        await sessions.revoke_session(session, session_id=viewer.session.id)
        await session.commit()
    response = await client.get(PHONE, headers=user_auth(user_a))
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


async def test_a_token_awaiting_activation_is_401(app, client, user_a):
    async with app.state.db.session() as session:
        user = await users.user_by_phone(session, phone=PHONE_A)
        pair, _ = await sessions.start_session(
            session, services=app.state.services, user_id=user.id, activation_pending=True
        )
        await session.commit()
    response = await client.get(PHONE, headers=user_auth(pair.access_token))
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


async def test_an_account_without_a_verified_phone_gets_phone_not_found(app, client):
    async with app.state.db.session() as session:
        user = await users.create_user(session, email="nophone@example.com")
        pair, _ = await sessions.start_session(session, services=app.state.services, user_id=user.id)
        await session.commit()
    response = await client.get(PHONE, headers=user_auth(pair.access_token))
    assert response.status_code == 422
    assert response.json() == {"code": "PHONE_NOT_FOUND", "message": "Нет подтверждённого телефона в паспорте"}
    english = await client.get(PHONE, headers={**user_auth(pair.access_token), **EN})
    assert english.json() == {"code": "PHONE_NOT_FOUND", "message": "There is no verified phone in the account"}


# --- POST /order -----------------------------------------------------------


async def test_order_answers_a_pay_token_and_stores_a_created_order(client, fetch, user_a):
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id, plate="х123хх77"), headers=user_auth(user_a))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"pay_token"} and body["pay_token"].startswith("payment:gAAAAA")
    order = await only_order(fetch)
    assert (order.status, order.plate, order.plate_normalized) == ("CREATED", "х123хх77", "Х123ХХ77")
    assert (order.car_title, order.carwash_id, order.amount, order.phone_id) == (
        "Toyota RAV4",
        CARWASH_ID,
        PRICE,
        int(phone_id),
    )
    assert order.code is None and order.paid_at is None


async def test_order_accepts_ids_as_numbers_too(client, fetch, user_a):
    phone_id = await phone_id_of(client, user_a)
    body = order_body(phone_id, carwash_id=CARWASH_ID)
    body["user"]["phone_id"] = int(phone_id)
    response = await client.post(ORDER, json=body, headers=user_auth(user_a))
    assert response.status_code == 200
    assert (await only_order(fetch)).status == "CREATED"


@pytest.mark.parametrize("phone_id", ["1234567890", "0", "abc", "", "-1", 99999999999999])
async def test_order_with_a_phone_id_that_is_not_the_users_is_invalid_phone_id(client, fetch, user_a, phone_id):
    response = await client.post(ORDER, json=order_body(phone_id), headers=user_auth(user_a))
    assert response.status_code == 422
    assert response.json() == {"code": "INVALID_PHONE_ID", "message": "Указанный номер телефона не найден"}
    assert await fetch(select(CarwashOrder)) == []


async def test_order_with_another_users_phone_id_is_invalid_phone_id(client, deliveries, fetch, user_a):
    token_b = await signed_up(client, deliveries, PHONE_B)
    phone_id_a = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id_a), headers={**user_auth(token_b), **EN})
    assert response.status_code == 422
    assert response.json() == {"code": "INVALID_PHONE_ID", "message": "The phone number was not found"}
    assert await fetch(select(CarwashOrder)) == []


async def test_order_with_an_old_phone_id_after_a_phone_change_is_invalid_phone_id(app, client, fetch, user_a):
    old_phone_id = await phone_id_of(client, user_a)
    async with app.state.db.session() as session:
        user = await users.user_by_phone(session, phone=PHONE_A)
        await users.set_verified_phone(session, user=user, phone="+79165554433")
        await session.commit()
    response = await client.post(ORDER, json=order_body(old_phone_id), headers=user_auth(user_a))
    assert response.status_code == 422 and response.json()["code"] == "INVALID_PHONE_ID"
    new_phone_id = await phone_id_of(client, user_a)
    assert new_phone_id != old_phone_id
    assert (await client.post(ORDER, json=order_body(new_phone_id), headers=user_auth(user_a))).status_code == 200


@pytest.mark.parametrize("plate", ["x123xx", "X123XX", "х123хх77", "A777AA777", "а 123 вс 77", "Е001КХ199"])
async def test_order_accepts_russian_plates(client, fetch, user_a, plate):
    await place_order(client, user_a, plate=plate)
    assert (await only_order(fetch)).plate == plate


@pytest.mark.parametrize(
    "plate", ["", "123", "x12xx", "x1234xx", "б123хх", "Q123QQ", "x123xx1", "x123xx7777", "хх123х", "'; DROP TABLE--"]
)
async def test_order_with_a_bad_plate_is_invalid_car_plate(client, fetch, user_a, plate):
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id, plate=plate), headers=user_auth(user_a))
    assert response.status_code == 422
    assert response.json() == {"code": "INVALID_CAR_PLATE", "message": "Неверный формат госномера автомобиля"}
    assert await fetch(select(CarwashOrder)) == []


@pytest.mark.parametrize("carwash_id", ["999", "abc", 0, "-5", 99999999999999])
async def test_order_for_an_unknown_carwash_is_carwash_not_found(client, fetch, user_a, carwash_id):
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id, carwash_id=carwash_id), headers=user_auth(user_a))
    assert response.status_code == 422
    assert response.json() == {"code": "CARWASH_NOT_FOUND", "message": "Мойка не найдена"}
    assert await fetch(select(CarwashOrder)) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[]",
        b'"text"',
        b"{}",
        orjson.dumps({"car": {"title": "T", "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": "1", "car": {"title": "T", "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {}, "car": {"title": "T", "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": True}, "car": {"title": "T", "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": ["1"]}, "car": {"title": "T", "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"title": 5, "plate": "x123xx"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"title": "T", "plate": 123}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"title": "T"}, "carwash_id": "1"}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"title": "T", "plate": "x123xx"}}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": {"title": "T", "plate": "x123xx"}, "carwash_id": 1.5}),
        orjson.dumps({"user": {"phone_id": "1"}, "car": None, "carwash_id": "1"}),
    ],
)
async def test_order_with_a_bad_body_is_400_validation_failed(client, fetch, user_a, raw):
    headers = {**user_auth(user_a), "Content-Type": "application/json"}
    response = await client.post(ORDER, content=raw, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == "VALIDATION_FAILED"
    assert await fetch(select(CarwashOrder)) == []


@pytest.mark.parametrize("title", ["  ", "T\x00x", "line\nbreak"])  # PostgreSQL refuses NUL in text
async def test_order_with_an_empty_or_unprintable_title_is_400(client, fetch, user_a, title):
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id, title=title), headers={**user_auth(user_a), **EN})
    assert response.status_code == 400
    assert response.json() == {"code": "VALIDATION_FAILED", "message": "The field car.title is missing or invalid"}
    assert await fetch(select(CarwashOrder)) == []


async def test_order_without_a_token_is_401_and_writes_nothing(client, fetch, user_a):
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id))
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"
    assert await fetch(select(CarwashOrder)) == []


async def test_a_new_order_replaces_an_unpaid_one_and_kills_its_pay_token(app, client, fetch, user_a):
    first = await place_order(client, user_a, plate="x123xx")
    second = await place_order(client, user_a, plate="a777aa77")
    orders = await fetch(select(CarwashOrder).order_by(CarwashOrder.id))
    assert [(o.status, o.plate) for o in orders] == [("CANCELLED", "x123xx"), ("CREATED", "a777aa77")]
    assert orders[0].cancelled_at is not None
    with pytest.raises(DomainError) as refused:
        await pay(app, first)
    assert refused.value.code.name == "INVALID_TOKEN"
    paid = await pay(app, second)
    assert paid.id == orders[1].id and paid.status == "PAID"


async def test_order_while_one_is_paid_is_too_many_codes(app, client, fetch, user_a):
    await pay(app, await place_order(client, user_a))
    phone_id = await phone_id_of(client, user_a)
    response = await client.post(ORDER, json=order_body(phone_id), headers=user_auth(user_a))
    assert response.status_code == 422
    assert response.json() == {"code": "TOO_MANY_CODES", "message": "Активный код уже есть"}
    [order] = await fetch(select(CarwashOrder))
    assert order.status == "PAID"


async def test_order_while_one_is_active_is_too_many_codes_and_after_use_is_allowed(
    app, client, fetch, user_a, service
):
    paid = await pay(app, await place_order(client, user_a))
    await activate(app, paid.id)
    phone_id = await phone_id_of(client, user_a)
    refused = await client.post(ORDER, json=order_body(phone_id), headers={**user_auth(user_a), **EN})
    assert refused.status_code == 422
    assert refused.json() == {"code": "TOO_MANY_CODES", "message": "There is already an active wash code"}
    assert (await client.post(USED, json={"order_id": str(paid.id)}, headers=bearer(service))).status_code == 200
    assert (await client.post(ORDER, json=order_body(phone_id), headers=user_auth(user_a))).status_code == 200
    statuses = sorted(o.status for o in await fetch(select(CarwashOrder)))
    assert statuses == ["CREATED", "USED"]


async def test_parallel_orders_leave_one_open_order(client, fetch, user_a):
    phone_id = await phone_id_of(client, user_a)
    responses = await asyncio.gather(
        *(client.post(ORDER, json=order_body(phone_id), headers=user_auth(user_a)) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    statuses = [o.status for o in await fetch(select(CarwashOrder))]
    assert statuses.count("CREATED") == 1 and statuses.count("CANCELLED") == 4


async def test_the_database_refuses_a_second_open_order(app, client, user_a):
    from sqlalchemy.exc import IntegrityError

    await place_order(client, user_a)
    async with app.state.db.session() as session:
        user = await users.user_by_phone(session, phone=PHONE_A)
        session.add(
            CarwashOrder(
                user_id=user.id,
                carwash_id=CARWASH_ID,
                car_title="T",
                plate="x123xx",
                plate_normalized="Х123ХХ",
                status="PAID",
                pay_nonce_hash="x",
                pay_expires_at=utcnow(),
            )
        )
        with pytest.raises(IntegrityError):
            await session.commit()


# --- GET /order/active -----------------------------------------------------


async def test_active_order_is_204_with_an_empty_body_when_there_is_none(client, user_a):
    response = await client.get(ACTIVE, headers=user_auth(user_a))
    assert response.status_code == 204 and response.content == b""
    await place_order(client, user_a)
    response = await client.get(ACTIVE, headers=user_auth(user_a))
    assert response.status_code == 204 and response.content == b""


async def test_active_order_without_a_token_is_401(client, user_a):
    response = await client.get(ACTIVE)
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHENTICATED"


async def test_the_whole_legacy_flow(app, client, fetch, user_a, service):
    # masked phone -> order
    phone = await client.get(PHONE, headers=user_auth(user_a))
    assert phone.json()["masked_phone"] == "+7 999 ***-**-33"
    created = await client.post(
        ORDER, json=order_body(phone.json()["phone_id"], plate="x123xx", title="Honda Civic"), headers=user_auth(user_a)
    )
    assert created.status_code == 200
    # pay (service) -> active shows Paid
    paid = await pay(app, created.json()["pay_token"])
    response = await client.get(ACTIVE, headers=user_auth(user_a))
    assert response.status_code == 200
    assert response.json() == {
        "plate": "x123xx",
        "car_title": "Honda Civic",
        "code": None,
        "carwashId": str(CARWASH_ID),
        "status": "Paid",
    }
    # code issued -> active shows Active with the code and no plate
    active = await activate(app, paid.id)
    response = await client.get(ACTIVE, headers=user_auth(user_a))
    assert response.status_code == 200
    assert response.json() == {
        "plate": None,
        "car_title": "Honda Civic",
        "code": active.code,
        "carwashId": str(CARWASH_ID),
        "status": "Active",
    }
    assert len(active.code) == 8 and set(active.code) <= set(carwash.WASH_CODE_ALPHABET)
    # the carwash annuls it -> 204
    used = await client.post(USED, json={"order_id": str(paid.id)}, headers=bearer(service))
    assert used.status_code == 200 and used.json() == {}
    response = await client.get(ACTIVE, headers=user_auth(user_a))
    assert response.status_code == 204 and response.content == b""
    order = await only_order(fetch)
    assert order.status == "USED" and order.used_at is not None and order.activated_at is not None


async def test_user_b_sees_nothing_of_user_a(app, client, deliveries, user_a):
    paid = await pay(app, await place_order(client, user_a))
    token_b = await signed_up(client, deliveries, PHONE_B)
    assert (await client.get(ACTIVE, headers=user_auth(token_b))).status_code == 204
    assert (await client.get(ACTIVE, headers=user_auth(user_a))).json()["status"] == "Paid"
    # B cannot annul A's order with a user token either
    response = await client.post(USED, json={"order_id": str(paid.id)}, headers=bearer(token_b))
    assert response.status_code == 401


# --- POST /order/used ------------------------------------------------------


async def test_used_is_idempotent_for_a_used_order(app, client, fetch, user_a, service):
    paid = await pay(app, await place_order(client, user_a))
    await activate(app, paid.id, code="AAAAAAA")
    first = await client.post(USED, json={"order_id": str(paid.id)}, headers=bearer(service))
    used_at = (await only_order(fetch)).used_at
    again = await client.post(USED, json={"order_id": paid.id}, headers=bearer(service))
    assert (first.status_code, first.json(), again.status_code, again.json()) == (200, {}, 200, {})
    assert (await only_order(fetch)).used_at == used_at


@pytest.mark.parametrize("spelling", [" {id}", "{id} ", "0{id}", "+{id}", "{id}\n", "{id}.0"])
async def test_an_id_names_an_order_only_as_the_apis_spell_it(app, client, fetch, user_a, service, spelling):
    paid = await pay(app, await place_order(client, user_a))
    await activate(app, paid.id, code="AAAAAAA")
    response = await client.post(USED, json={"order_id": spelling.format(id=paid.id)}, headers=bearer(service))
    assert response.status_code == 404 and response.json() == {"code": "NOT_FOUND", "message": "Заказ не найден"}
    assert (await only_order(fetch)).status == "ACTIVE"
    assert (await client.post(USED, json={"order_id": str(paid.id)}, headers=bearer(service))).status_code == 200


async def test_used_for_an_order_that_is_not_active_is_invalid_order_status(app, client, fetch, user_a, service):
    await place_order(client, user_a)
    created = await only_order(fetch)
    response = await client.post(USED, json={"order_id": str(created.id)}, headers=bearer(service))
    assert response.status_code == 422
    assert response.json() == {"code": "INVALID_ORDER_STATUS", "message": "Статус заказа не позволяет это действие"}
    await pay(app, (await place_order(client, user_a)))
    paid = (await fetch(select(CarwashOrder).where(CarwashOrder.status == "PAID")))[0]
    response = await client.post(USED, json={"order_id": str(paid.id)}, headers={**bearer(service), **EN})
    assert response.status_code == 422
    assert response.json() == {"code": "INVALID_ORDER_STATUS", "message": "The order's status does not allow this"}
    assert (await fetch(select(CarwashOrder).where(CarwashOrder.id == paid.id)))[0].status == "PAID"


@pytest.mark.parametrize("order_id", ["424242", "abc", 0, 99999999999999])
async def test_used_for_an_unknown_order_is_404(client, user_a, service, order_id):
    response = await client.post(USED, json={"order_id": order_id}, headers=bearer(service))
    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "message": "Заказ не найден"}


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b"",
        b"[]",
        b"{}",
        b'{"order_id": null}',
        b'{"order_id": true}',
        b'{"order_id": [1]}',
        b'{"order_id": {"a": 1}}',
    ],
)
async def test_used_with_a_bad_body_is_400(client, service, raw):
    response = await client.post(USED, content=raw, headers={**bearer(service), "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_FAILED"


async def test_used_refuses_user_tokens_missing_and_revoked_service_tokens(app, client, fetch, user_a):
    token_id, token = await new_service_token(app)
    paid = await pay(app, await place_order(client, user_a))
    await activate(app, paid.id)
    body = {"order_id": str(paid.id)}
    for headers in ({}, bearer(user_a), user_auth(user_a), bearer("wgs_forged"), {"Authorization": "Bearer"}):
        response = await client.post(USED, json=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] == "UNAUTHENTICATED"
    async with app.state.db.session() as session:
        assert await service_tokens.revoke_service_token(session=session, token_id=token_id)
    response = await client.post(USED, json=body, headers=bearer(token))
    assert response.status_code == 401
    assert (await only_order(fetch)).status == "ACTIVE"
    [row] = await fetch(select(ServiceToken).where(ServiceToken.id == token_id))
    assert row.revoked_at is not None


async def test_credentials_are_checked_before_the_body(client):
    response = await client.post(USED, content=b"{bad", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


# --- payments (the resolver the payment provider reaches through GraphQL) --


async def test_double_payment_callbacks_record_one_payment(app, client, fetch, user_a):
    pay_token = await place_order(client, user_a)
    first = await pay(app, pay_token)
    paid_at = (await only_order(fetch)).paid_at
    again = await pay(app, pay_token)
    assert first.id == again.id and again.status == "PAID" and again.paid_at == paid_at
    parallel = await asyncio.gather(*(pay(app, pay_token) for _ in range(5)))
    assert {o.paid_at for o in parallel} == {paid_at}
    assert (await only_order(fetch)).paid_at == paid_at


async def test_an_expired_pay_token_is_refused(app, client, execute, fetch, user_a):
    pay_token = await place_order(client, user_a)
    await execute(update(CarwashOrder).values(pay_expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(DomainError) as refused:
        await pay(app, pay_token)
    assert refused.value.code.name == "INVALID_TOKEN"
    assert (await only_order(fetch)).status == "CREATED"


async def test_messages_follow_accept_language_q_values(client, user_a):
    preferring_english = {"Accept-Language": "de, en;q=0.9, ru;q=0.5"}
    response = await client.get(ACTIVE, headers={**preferring_english, "Authorization": "OAuth x"})
    assert response.json() == {"code": "UNAUTHENTICATED", "message": "The token is invalid or expired"}
    response = await client.get(ACTIVE, headers={"Accept-Language": "en;q=0.1, ru", "Authorization": "OAuth x"})
    assert response.json() == {"code": "UNAUTHENTICATED", "message": "Токен недействителен или истёк"}


# --- request-level errors --------------------------------------------------


async def test_unknown_paths_are_404_in_the_seed_shape(client):
    for path in (f"{BASE}/nope", f"{BASE}/order/active/x", "/carwashes/2.x/order"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {"code": "NOT_FOUND", "message": "Не найдено"}


async def test_wrong_method_is_405_in_the_seed_shape(client):
    for method, path in (("GET", ORDER), ("POST", ACTIVE), ("DELETE", USED), ("POST", PHONE)):
        response = await client.request(method, path, headers=EN)
        assert response.status_code == 405
        assert response.json() == {"code": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}


@pytest.mark.settings(max_body_bytes=1024)
async def test_a_body_over_the_limit_is_413_in_the_seed_shape(client, user_a):
    response = await client.post(ORDER, content=b"{" + b" " * 4096 + b"}", headers=user_auth(user_a))
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"


def _request(headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": ORDER, "headers": raw, "query_string": b""})


async def test_limits_are_429_with_retry_after_and_other_codes_are_422():
    limited = render_domain_error(_request(EN), RateLimited(utcnow() + timedelta(seconds=30)))
    assert limited.status_code == 429 and 29 <= int(limited.headers["Retry-After"]) <= 31
    assert orjson.loads(limited.body) == {"code": "RATE_LIMITED", "message": "Too many requests, try again later"}
    other = render_domain_error(_request(), InvalidCode(0))
    assert other.status_code == 422 and orjson.loads(other.body)["code"] == "INVALID_OTP"


async def test_an_account_with_a_paid_order_is_not_deleted_until_the_order_is_used(app, client, fetch, user_a, service):
    from models import User

    order = await pay(app, await place_order(client, user_a))
    [user] = await fetch(select(User))
    delete = Namespace(id=str(user.id))
    with pytest.raises(AdminError, match="paid or active carwash order"):
        await admin.users_delete(app.state.db, app.state.services, delete)
    assert len(await fetch(select(User))) == 1 and (await only_order(fetch)).status == "PAID"
    await activate(app, order.id)
    used = await client.post(USED, json={"order_id": str(order.id)}, headers=bearer(service))
    assert used.status_code == 200
    assert await admin.users_delete(app.state.db, app.state.services, delete) == {"id": str(user.id), "deleted": True}
    assert await fetch(select(User)) == [] and await fetch(select(CarwashOrder)) == []
