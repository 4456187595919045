"""GraphQL carwash orders: catalogue, ordering, the service mutations, the viewer's
orders, isolation between users, and live updates over graphql-transport-ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from cryptography.fernet import Fernet
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport
from sqlmodel import select, update

from core.clock import utcnow
from models import CarwashOrder
from resolvers import carwash
from tests.carwash_helpers import CARWASH_ID, PHONE_A, PHONE_B, PRICE, add_carwash, new_service_token, signed_up
from tests.support import gql

CARWASHES = "query { carwashes { id name address price } }"
ORDER_FIELDS = "id status carTitle plate code amount carwash { id name } createdAt paidAt activatedAt usedAt"
# In a union with the Error types `code` must be aliased on one side (String vs ErrorCode).
SERVICE_ORDER_FIELDS = ORDER_FIELDS.replace(" code ", " washCode: code ")
ME_PHONE = "query { me { phone { id masked } } }"
CREATE = f"""
mutation Create($phoneId: ID!, $title: String!, $plate: String!, $carwashId: ID!) {{
  createCarwashOrder(input: {{phoneId: $phoneId, car: {{title: $title, plate: $plate}}, carwashId: $carwashId}}) {{
    __typename
    ... on CarwashOrderCreated {{ payToken order {{ {ORDER_FIELDS} }} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}"""
CONFIRM = f"""
mutation Confirm($payToken: String!) {{
  confirmCarwashPayment(input: {{payToken: $payToken}}) {{
    __typename
    ... on CarwashOrder {{ {SERVICE_ORDER_FIELDS} }}
    ... on Error {{ code message }}
  }}
}}"""
ACTIVATE = f"""
mutation Activate($orderId: ID!, $code: String) {{
  activateCarwashOrder(input: {{orderId: $orderId, code: $code}}) {{
    __typename
    ... on CarwashOrder {{ {SERVICE_ORDER_FIELDS} }}
    ... on Error {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}"""
MARK_USED = f"""
mutation Used($orderId: ID!) {{
  markCarwashOrderUsed(input: {{orderId: $orderId}}) {{
    __typename
    ... on CarwashOrder {{ {SERVICE_ORDER_FIELDS} }}
    ... on Error {{ code message }}
  }}
}}"""
MY_ORDERS = """
query Orders($first: Int, $after: String) {
  me {
    activeCarwashOrder { id status code plate }
    carwashOrders(first: $first, after: $after) {
      edges { cursor node { id status plate } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
ONE_ORDER = "query One($id: ID!) { carwashOrder(id: $id) { id status } }"
SUBSCRIPTION = "subscription { carwashOrderUpdated { id status code plate paidAt activatedAt usedAt carwash { id } } }"


@pytest.fixture
async def user_a(app, client, deliveries):
    await add_carwash(app)
    return await signed_up(client, deliveries, PHONE_A)


@pytest.fixture
async def service(app):
    _, token = await new_service_token(app)
    return token


async def phone_id(client, token) -> str:
    return (await gql(client, ME_PHONE, token=token))["data"]["me"]["phone"]["id"]


async def create(
    client, token, *, plate="x123xx", carwash_id=str(CARWASH_ID), phone=None, title="Toyota RAV4"
) -> dict[str, Any]:
    variables = {
        "phoneId": phone if phone is not None else await phone_id(client, token),
        "title": title,
        "plate": plate,
        "carwashId": carwash_id,
    }
    return (await gql(client, CREATE, variables, token=token))["data"]["createCarwashOrder"]


def _unaliased(result: dict[str, Any]) -> dict[str, Any]:
    if "washCode" in result:
        result["code"] = result.pop("washCode")
    return result


async def confirm(client, token, pay_token) -> dict[str, Any]:
    return _unaliased(
        (await gql(client, CONFIRM, {"payToken": pay_token}, token=token))["data"]["confirmCarwashPayment"]
    )


async def activate(client, token, order_id, code=None) -> dict[str, Any]:
    variables = {"orderId": order_id, "code": code}
    return _unaliased((await gql(client, ACTIVATE, variables, token=token))["data"]["activateCarwashOrder"])


async def mark_used(client, token, order_id) -> dict[str, Any]:
    return _unaliased(
        (await gql(client, MARK_USED, {"orderId": order_id}, token=token))["data"]["markCarwashOrderUsed"]
    )


async def paid_order(client, user, service) -> dict[str, Any]:
    created = await create(client, user)
    paid = await confirm(client, service, created["payToken"])
    assert paid["status"] == "PAID"
    return paid


async def rows(fetch) -> list[CarwashOrder]:
    return await fetch(select(CarwashOrder).order_by(CarwashOrder.id))


# --- catalogue ---------------------------------------------------------------


async def test_carwashes_lists_the_catalogue(app, client):
    await add_carwash(app, carwash_id=7, price=300, name="Б")
    await add_carwash(app, carwash_id=3, price=0, name="А")
    body = await gql(client, CARWASHES)
    assert body == {
        "data": {
            "carwashes": [
                {"id": "3", "name": "А", "address": "Москва", "price": 0},
                {"id": "7", "name": "Б", "address": "Москва", "price": 300},
            ]
        }
    }


# --- createCarwashOrder ------------------------------------------------------


async def test_create_order_answers_the_order_and_its_pay_token(client, fetch, user_a):
    result = await create(client, user_a, plate="х123хх77")
    assert result["__typename"] == "CarwashOrderCreated"
    assert result["payToken"].startswith("payment:gAAAAA")
    order = result["order"]
    [row] = await rows(fetch)
    assert order["id"] == str(row.id)
    assert (order["status"], order["carTitle"], order["plate"], order["code"], order["amount"]) == (
        "CREATED",
        "Toyota RAV4",
        "х123хх77",
        None,
        PRICE,
    )
    assert order["carwash"] == {"id": str(CARWASH_ID), "name": "Мойка на Ленина"}
    assert order["paidAt"] is None and order["activatedAt"] is None and order["usedAt"] is None


async def test_create_order_needs_a_user(client, fetch, user_a, service):
    variables = {"phoneId": "1", "title": "T", "plate": "x123xx", "carwashId": str(CARWASH_ID)}
    for token in (None, service):
        result = (await gql(client, CREATE, variables, token=token))["data"]["createCarwashOrder"]
        assert result == {"__typename": "OperationError", "code": "UNAUTHENTICATED", "message": result["message"]}
    assert await rows(fetch) == []


async def test_create_order_refusals(client, deliveries, fetch, user_a, service):
    token_b = await signed_up(client, deliveries, PHONE_B)
    phone_a = await phone_id(client, user_a)
    foreign = await create(client, token_b, phone=phone_a)
    assert foreign == {
        "__typename": "OperationError",
        "code": "INVALID_PHONE_ID",
        "message": "The phone number was not found",
    }
    plate = await create(client, user_a, plate="q123qq")
    assert plate == {
        "__typename": "OperationError",
        "code": "INVALID_CAR_PLATE",
        "message": "Invalid car registration plate",
    }
    unknown = await create(client, user_a, carwash_id="999")
    assert unknown == {"__typename": "OperationError", "code": "CARWASH_NOT_FOUND", "message": "Carwash not found"}
    title = await create(client, user_a, title=" ")
    assert (
        title["__typename"] == "ValidationError"
        and title["field"] == "car.title"
        and title["code"] == "VALIDATION_FAILED"
    )
    assert await rows(fetch) == []
    await paid_order(client, user_a, service)
    again = await create(client, user_a)
    assert again["__typename"] == "OperationError" and again["code"] == "TOO_MANY_CODES"
    assert [r.status for r in await rows(fetch)] == ["PAID"]


async def test_messages_follow_accept_language(client, user_a):
    variables = {"phoneId": await phone_id(client, user_a), "title": "T", "plate": "bad", "carwashId": str(CARWASH_ID)}
    body = await gql(client, CREATE, variables, token=user_a, headers={"Accept-Language": "ru"})
    assert body["data"]["createCarwashOrder"]["message"] == "Неверный формат госномера автомобиля"


# --- confirmCarwashPayment ---------------------------------------------------


async def test_confirm_payment_moves_the_order_to_paid_once(client, fetch, user_a, service):
    created = await create(client, user_a)
    first = await confirm(client, service, created["payToken"])
    assert first["__typename"] == "CarwashOrder" and first["status"] == "PAID" and first["paidAt"] is not None
    again = await confirm(client, service, created["payToken"])
    assert again == first
    parallel = await asyncio.gather(*(confirm(client, service, created["payToken"]) for _ in range(8)))
    assert all(result == first for result in parallel)
    [row] = await rows(fetch)
    assert row.status == "PAID" and row.paid_at.isoformat() == datetime.fromisoformat(first["paidAt"]).isoformat()


async def test_parallel_first_confirmations_record_one_payment(client, fetch, user_a, service):
    created = await create(client, user_a)
    results = await asyncio.gather(*(confirm(client, service, created["payToken"]) for _ in range(8)))
    assert {r["__typename"] for r in results} == {"CarwashOrder"}
    assert len({r["paidAt"] for r in results}) == 1
    [row] = await rows(fetch)
    assert row.status == "PAID"


async def test_confirm_payment_refuses_user_tokens_and_anonymous_callers(client, fetch, user_a):
    created = await create(client, user_a)
    for token in (user_a, None, "wgs_forged"):
        result = await confirm(client, token, created["payToken"])
        assert result["__typename"] == "OperationError" and result["code"] == "UNAUTHENTICATED"
    [row] = await rows(fetch)
    assert row.status == "CREATED" and row.paid_at is None


def _claims(app, pay_token) -> dict[str, Any]:
    return orjson.loads(app.state.services.keys.fernet.decrypt(pay_token.removeprefix("payment:").encode()))


def _reissue(app, claims) -> str:
    return "payment:" + app.state.services.keys.fernet.encrypt(json.dumps(claims).encode()).decode()


async def test_confirm_payment_refuses_forged_tokens(app, client, fetch, user_a, service):
    pay_token = (await create(client, user_a))["payToken"]
    claims = _claims(app, pay_token)
    other_key = "payment:" + Fernet(Fernet.generate_key()).encrypt(orjson.dumps(claims)).decode()
    tampered = pay_token[:-6] + ("A" if pay_token[-6] != "A" else "B") + pay_token[-5:]
    forged = [
        "",
        "payment:",
        "payment:abc",
        pay_token.removeprefix("payment:"),
        "payment:" + "A" * 2000,
        other_key,
        tampered,
        _reissue(app, {**claims, "a": claims["a"] - 1}),
        _reissue(app, {**claims, "n": "another-nonce"}),
        _reissue(app, {**claims, "o": claims["o"] + 1}),
        _reissue(app, {**claims, "e": int((utcnow() - timedelta(seconds=1)).timestamp())}),
        _reissue(app, {"o": claims["o"]}),
        _reissue(app, {**claims, "e": 10**20}),
        _reissue(app, {**claims, "o": 10**20}),
        _reissue(app, {**claims, "o": "x"}),
        "payment:" + app.state.services.keys.fernet.encrypt(b"not json").decode(),
        pay_token + " ",  # the base64 decoder would skip what is not base64
        pay_token + "\n",
        pay_token[:20] + "." + pay_token[20:],
    ]
    for token in forged:
        result = await confirm(client, service, token)
        assert result == {
            "__typename": "OperationError",
            "code": "INVALID_TOKEN",
            "message": "The payment token is invalid or expired",
        }, token
    [row] = await rows(fetch)
    assert row.status == "CREATED"
    assert (await confirm(client, service, pay_token))["status"] == "PAID"


async def test_confirm_payment_refuses_an_expired_or_replaced_token(client, execute, fetch, user_a, service):
    first = (await create(client, user_a))["payToken"]
    second = (await create(client, user_a))["payToken"]
    replaced = await confirm(client, service, first)
    assert replaced["__typename"] == "OperationError" and replaced["code"] == "INVALID_TOKEN"
    await execute(update(CarwashOrder).values(pay_expires_at=utcnow() - timedelta(seconds=1)))
    expired = await confirm(client, service, second)
    assert expired["__typename"] == "OperationError" and expired["code"] == "INVALID_TOKEN"
    assert [r.status for r in await rows(fetch)] == ["CANCELLED", "CREATED"]


async def test_a_revoked_service_token_stops_at_once(app, client, fetch, user_a):
    from resolvers import service_tokens

    token_id, token = await new_service_token(app, "payments")
    created = await create(client, user_a)
    async with app.state.db.session() as session:
        await service_tokens.revoke_service_token(session=session, token_id=token_id)
    result = await confirm(client, token, created["payToken"])
    assert result["__typename"] == "OperationError" and result["code"] == "UNAUTHENTICATED"


# --- activateCarwashOrder / markCarwashOrderUsed ----------------------------


async def test_activate_issues_a_generated_code_and_hides_the_plate(client, fetch, user_a, service):
    paid = await paid_order(client, user_a, service)
    active = await activate(client, service, paid["id"])
    assert active["__typename"] == "CarwashOrder" and active["status"] == "ACTIVE"
    assert active["plate"] is None and active["activatedAt"] is not None
    code = active["code"]
    assert len(code) == carwash.WASH_CODE_LENGTH and set(code) <= set(carwash.WASH_CODE_ALPHABET)
    assert await activate(client, service, paid["id"]) == active
    assert await activate(client, service, paid["id"], code) == active
    other = await activate(client, service, paid["id"], "ZZZZ9999")
    assert other["__typename"] == "OperationError" and other["code"] == "INVALID_ORDER_STATUS"
    [row] = await rows(fetch)
    assert row.code == code and row.plate == "x123xx"


async def test_activate_with_a_given_code(client, user_a, service):
    paid = await paid_order(client, user_a, service)
    active = await activate(client, service, paid["id"], "AAAAAAA")
    assert active["code"] == "AAAAAAA"


@pytest.mark.parametrize("code", ["", "abc", "a b c d", "x" * 33, "код1234"])
async def test_activate_refuses_a_malformed_code(client, fetch, user_a, service, code):
    paid = await paid_order(client, user_a, service)
    result = await activate(client, service, paid["id"], code)
    assert result["__typename"] == "ValidationError" and result["field"] == "code"
    assert (await rows(fetch))[0].status == "PAID"


async def test_activate_refusals(client, fetch, user_a, service):
    created = await create(client, user_a)
    order_id = created["order"]["id"]
    not_paid = await activate(client, service, order_id)
    assert not_paid == {
        "__typename": "OperationError",
        "code": "INVALID_ORDER_STATUS",
        "message": "The order's status does not allow this",
    }
    for unknown in ("424242", "abc", "0"):
        result = await activate(client, service, unknown)
        assert result == {"__typename": "OperationError", "code": "NOT_FOUND", "message": "Order not found"}
    await confirm(client, service, created["payToken"])
    for token in (user_a, None):
        result = await activate(client, token, order_id)
        assert result["__typename"] == "OperationError" and result["code"] == "UNAUTHENTICATED"
    assert (await rows(fetch))[0].status == "PAID"


async def test_mark_used_moves_active_to_used_and_is_idempotent(client, fetch, user_a, service):
    paid = await paid_order(client, user_a, service)
    early = await mark_used(client, service, paid["id"])
    assert early["__typename"] == "OperationError" and early["code"] == "INVALID_ORDER_STATUS"
    await activate(client, service, paid["id"])
    for token in (user_a, None):
        refused = await mark_used(client, token, paid["id"])
        assert refused["__typename"] == "OperationError" and refused["code"] == "UNAUTHENTICATED"
    used = await mark_used(client, service, paid["id"])
    assert used["status"] == "USED" and used["usedAt"] is not None and used["plate"] is None and used["code"]
    assert await mark_used(client, service, paid["id"]) == used
    unknown = await mark_used(client, service, "424242")
    assert unknown["__typename"] == "OperationError" and unknown["code"] == "NOT_FOUND"
    assert (await rows(fetch))[0].status == "USED"


# --- the viewer's orders -----------------------------------------------------


async def test_me_shows_the_active_order_and_the_history(client, user_a, service):
    empty = (await gql(client, MY_ORDERS, token=user_a))["data"]["me"]
    assert empty == {
        "activeCarwashOrder": None,
        "carwashOrders": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}},
    }
    ids = [(await create(client, user_a, plate=plate))["order"]["id"] for plate in ("x123xx", "a777aa77", "e001kx199")]
    paid = await confirm(client, service, (await create(client, user_a))["payToken"])
    ids.append(paid["id"])
    me = (await gql(client, MY_ORDERS, {"first": 2}, token=user_a))["data"]["me"]
    assert me["activeCarwashOrder"] == {"id": paid["id"], "status": "PAID", "code": None, "plate": "x123xx"}
    page = me["carwashOrders"]
    assert [e["node"]["id"] for e in page["edges"]] == [ids[3], ids[2]]
    assert [e["node"]["status"] for e in page["edges"]] == ["PAID", "CANCELLED"]
    assert page["pageInfo"] == {"hasNextPage": True, "endCursor": page["edges"][-1]["cursor"]}
    rest = await gql(client, MY_ORDERS, {"first": 5, "after": page["pageInfo"]["endCursor"]}, token=user_a)
    rest_page = rest["data"]["me"]["carwashOrders"]
    assert [e["node"]["id"] for e in rest_page["edges"]] == [ids[1], ids[0]]
    assert rest_page["pageInfo"]["hasNextPage"] is False
    default = (await gql(client, MY_ORDERS, token=user_a))["data"]["me"]["carwashOrders"]
    assert len(default["edges"]) == 4


@pytest.mark.parametrize(
    "variables",
    [
        {"after": "not-a-cursor"},
        {"after": "b3JkZXI6eA=="},
        {"after": "b3JkZXI6OTk5OTk5OTk5OQ=="},  # order:9999999999, past the id column's range
        {"after": "b3JkZXI6MjE0NzQ4MzY0OA=="},  # order:2147483648
        {"first": 101},
        {"first": -1},
    ],
)
async def test_bad_pagination_arguments_are_validation_errors(client, user_a, variables):
    body = await gql(client, MY_ORDERS, variables, token=user_a)
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


async def test_user_b_cannot_see_or_touch_user_a_orders(client, deliveries, user_a, service):
    paid = await paid_order(client, user_a, service)
    token_b = await signed_up(client, deliveries, PHONE_B)
    me_b = (await gql(client, MY_ORDERS, token=token_b))["data"]["me"]
    assert me_b["activeCarwashOrder"] is None and me_b["carwashOrders"]["edges"] == []
    foreign = await gql(client, ONE_ORDER, {"id": paid["id"]}, token=token_b)
    assert foreign["data"] == {"carwashOrder": None}
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unknown = await gql(client, ONE_ORDER, {"id": "424242"}, token=token_b)
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert unknown["errors"][0]["message"] == foreign["errors"][0]["message"]
    own = await gql(client, ONE_ORDER, {"id": paid["id"]}, token=user_a)
    assert own == {"data": {"carwashOrder": {"id": paid["id"], "status": "PAID"}}}
    assert (await gql(client, ONE_ORDER, {"id": paid["id"]})) == {"data": {"carwashOrder": None}}
    # B's phone id is no key to A's orders, and A's is none to B's
    refused = await create(client, token_b, phone=await phone_id(client, user_a))
    assert refused["code"] == "INVALID_PHONE_ID"


# --- subscription ------------------------------------------------------------


@asynccontextmanager
async def subscribed(app: Any, token: str | None) -> AsyncIterator[Any]:
    """A graphql-transport-ws connection subscribed to carwashOrderUpdated, ready for events."""
    async with ASGIWebSocketTransport(app=app) as transport:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with aconnect_ws("http://testserver/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
                payload = {"Authorization": f"Bearer {token}"} if token else {}
                await ws.send_json({"type": "connection_init", "payload": payload})
                assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
                await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
                yield ws


async def until_listening(app: Any, count: int = 1) -> None:
    """Wait until `count` subscribers are registered on the bus (the protocol has no ack for it)."""
    bus = app.state.services.events
    for _ in range(200):
        if sum(len(queues) for queues in bus._queues.values()) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the subscription never registered")


async def next_update(ws: Any) -> dict[str, Any]:
    while True:
        message = await ws.receive_json(timeout=5)
        if message["type"] in ("ping", "pong"):
            continue
        assert message["type"] == "next", message
        return message["payload"]["data"]["carwashOrderUpdated"]  # type: ignore[no-any-return]


async def test_a_subscriber_sees_paid_then_active_then_used(app, client, user_a, service):
    created = await create(client, user_a)
    order_id = created["order"]["id"]
    async with subscribed(app, user_a) as ws:
        await until_listening(app)
        await confirm(client, service, created["payToken"])
        paid = await next_update(ws)
        assert (paid["id"], paid["status"], paid["code"], paid["plate"]) == (order_id, "PAID", None, "x123xx")
        assert paid["carwash"] == {"id": str(CARWASH_ID)}
        active = await activate(client, service, order_id)
        seen = await next_update(ws)
        assert (seen["status"], seen["code"], seen["plate"]) == ("ACTIVE", active["code"], None)
        await mark_used(client, service, order_id)
        used = await next_update(ws)
        assert used["status"] == "USED" and used["usedAt"] is not None
        # A repeated callback changes nothing, so nothing is published.
        await confirm(client, service, created["payToken"])
        with pytest.raises(TimeoutError):
            await ws.receive_json(timeout=0.3)


async def test_each_change_reaches_a_subscriber_even_when_later_ones_came_first(app, client, user_a, service):
    """Events carry the order as it was right after each change, not its state when read."""
    async with subscribed(app, user_a) as ws:
        await until_listening(app)
        created = await create(client, user_a)
        replacing = await create(client, user_a, plate="a777aa77")  # cancels the first
        order_id = replacing["order"]["id"]
        await confirm(client, service, replacing["payToken"])
        active = await activate(client, service, order_id)
        await mark_used(client, service, order_id)
        seen = [await next_update(ws) for _ in range(6)]
    assert [(update["id"], update["status"]) for update in seen] == [
        (created["order"]["id"], "CREATED"),
        (created["order"]["id"], "CANCELLED"),
        (order_id, "CREATED"),
        (order_id, "PAID"),
        (order_id, "ACTIVE"),
        (order_id, "USED"),
    ]
    assert [update["plate"] for update in seen] == ["x123xx", "x123xx", "a777aa77", "a777aa77", None, None]
    assert seen[4]["code"] == active["code"] and seen[4]["usedAt"] is None and seen[5]["usedAt"] is not None


async def test_a_subscriber_sees_only_its_own_orders(app, client, deliveries, user_a, service):
    token_b = await signed_up(client, deliveries, PHONE_B)
    created_a = await create(client, user_a)
    async with subscribed(app, token_b) as ws:
        await until_listening(app)
        await confirm(client, service, created_a["payToken"])
        created_b = await create(client, token_b, plate="a777aa77")
        first = await next_update(ws)
        assert (first["id"], first["status"]) == (created_b["order"]["id"], "CREATED")


async def test_a_subscription_needs_a_user(app, client, user_a):
    async with subscribed(app, None) as ws:
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "next" and message["payload"]["data"] is None
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await ws.receive_json(timeout=5)) == {"type": "complete", "id": "1"}


async def test_a_connection_init_with_a_null_payload_is_anonymous(app):
    async with ASGIWebSocketTransport(app=app) as transport:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with aconnect_ws("http://testserver/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send_json({"type": "connection_init", "payload": None})
                assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
                await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
                message = await ws.receive_json(timeout=5)
                assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.settings(graphql_max_subscriptions=1)
async def test_subscriptions_per_connection_are_capped(app, user_a):
    async with subscribed(app, user_a) as ws:
        await until_listening(app)
        await ws.send_json({"id": "2", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
        refused = await ws.receive_json(timeout=5)
        assert refused == {"id": "2", "type": "error", "payload": [{"message": "Subscription limit reached"}]}


async def test_a_bad_token_is_refused_at_connection(app):
    async with ASGIWebSocketTransport(app=app) as transport:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            async with aconnect_ws("http://testserver/graphql", http, subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
                with pytest.raises(WebSocketDisconnect) as closed:
                    await ws.receive_json(timeout=5)
                assert closed.value.code == 4403


async def test_a_logged_out_subscriber_is_cut_off_at_its_next_update(app, client, user_a, service):
    from resolvers import sessions

    created = await create(client, user_a)
    async with subscribed(app, user_a) as ws:
        await until_listening(app)
        async with app.state.db.session() as session:
            viewer = await sessions.authenticate(session, services=app.state.services, token=user_a)
            await sessions.revoke_session(session, session_id=viewer.session.id)
            await session.commit()
        await confirm(client, service, created["payToken"])
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "next" and message["payload"]["data"] is None
        assert message["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await ws.receive_json(timeout=5)) == {"type": "complete", "id": "1"}
