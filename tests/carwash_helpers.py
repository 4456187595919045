"""Shared steps of the carwash tests (seed 000): users with tokens, carwashes, service tokens."""

from __future__ import annotations

from typing import Any

import httpx

from resolvers import carwash, service_tokens
from tests.support import RecordingDelivery

PHONE_A = "+79991234533"
PHONE_B = "+79161112233"
CARWASH_ID = 12345
PRICE = 500
BASE = "/carwashes/1.x"


async def signed_up(client: httpx.AsyncClient, deliveries: RecordingDelivery, phone: str = PHONE_A) -> str:
    """Register `phone` through seed 004 and return its access token."""
    sent = await client.post("/api/v2/auth/send/otp", json={"phone": phone})
    assert sent.status_code == 201, sent.text
    response = await client.post(
        "/api/v2/auth/register",
        json={
            "phone": phone,
            "otp": deliveries.last_code(phone),
            "isTermsAccepted": True,
            "isPromoTermsAccepted": False,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["tokens"]["accessToken"]  # type: ignore[no-any-return]


async def add_carwash(
    app: Any, carwash_id: int = CARWASH_ID, price: int = PRICE, name: str = "Мойка на Ленина"
) -> None:
    async with app.state.db.session() as session:
        await carwash.add_carwash(session=session, carwash_id=carwash_id, name=name, address="Москва", price=price)


async def new_service_token(app: Any, name: str = "Альфред") -> tuple[int, str]:
    async with app.state.db.session() as session:
        row, token = await service_tokens.create_service_token(session=session, services=app.state.services, name=name)
    return row.id or 0, token


def user_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def phone_id_of(client: httpx.AsyncClient, token: str) -> str:
    response = await client.get(f"{BASE}/user/phone", headers=user_auth(token))
    assert response.status_code == 200, response.text
    return response.json()["phone_id"]  # type: ignore[no-any-return]


def order_body(
    phone_id: str, plate: str = "x123xx", carwash_id: object = str(CARWASH_ID), title: str = "Toyota RAV4"
) -> dict[str, Any]:
    return {"user": {"phone_id": phone_id}, "car": {"title": title, "plate": plate}, "carwash_id": carwash_id}


async def place_order(client: httpx.AsyncClient, token: str, **kwargs: Any) -> str:
    """POST /order for the user; returns the pay token."""
    phone_id = await phone_id_of(client, token)
    response = await client.post(f"{BASE}/order", json=order_body(phone_id, **kwargs), headers=user_auth(token))
    assert response.status_code == 200, response.text
    return response.json()["pay_token"]  # type: ignore[no-any-return]


async def pay(app: Any, pay_token: str, caller_name: str = "payments") -> Any:
    """Confirm a payment through the resolver (as the payment provider would over GraphQL)."""
    async with app.state.db.session() as session:
        caller, _ = await service_tokens.create_service_token(
            session=session, services=app.state.services, name=caller_name
        )
    async with app.state.db.session() as session:
        return await carwash.confirm_payment(
            session=session, services=app.state.services, caller=caller, pay_token=pay_token
        )


async def activate(app: Any, order_id: int, code: str | None = None) -> Any:
    async with app.state.db.session() as session:
        caller, _ = await service_tokens.create_service_token(
            session=session, services=app.state.services, name="network"
        )
    async with app.state.db.session() as session:
        return await carwash.activate_order(
            session=session, services=app.state.services, caller=caller, order_id=order_id, code=code
        )
