"""Test helpers: a delivery provider that records what was sent, GraphQL calls, codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from core.delivery import CodeMessage, DeliveryError


class RecordingDelivery:
    """A delivery provider that keeps every message (or refuses them while `failing`)."""

    def __init__(self) -> None:
        self.messages: list[CodeMessage] = []
        self.failing = False

    async def send(self, message: CodeMessage, *, now: datetime) -> None:
        if self.failing:
            raise DeliveryError("provider down")
        self.messages.append(message)

    async def aclose(self) -> None:
        return None

    def to(self, phone: str) -> list[CodeMessage]:
        return [m for m in self.messages if m.phone == phone]

    def last_code(self, phone: str) -> str:
        sent = self.to(phone)
        assert sent, f"nothing was delivered to {phone}"
        return sent[-1].code


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL operation; returns the whole JSON response (asserts HTTP 200)."""
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def wrong_code(code: str) -> str:
    """A code of the same length that differs from `code`."""
    return "".join(str((int(ch) + 1) % 10) for ch in code)
