"""Delivery of codes: one interface, a log provider and a signed webhook provider."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx
from standardwebhooks.webhooks import Webhook

log = logging.getLogger("washgate.delivery")

TYPE_BY_CHANNEL = {"sms": "otp.sms", "voice": "otp.voice", "flash_call": "otp.flash_call"}


@dataclass(frozen=True)
class CodeMessage:
    """One code leaving the server."""

    channel: str  # sms | voice | flash_call
    phone: str  # E.164
    code: str
    purpose: str  # auth | phone_bind | token_activation | app_verification
    locale: str
    text: str
    caller_id: str | None = None

    @property
    def type(self) -> str:
        return TYPE_BY_CHANNEL[self.channel]

    def payload(self, timestamp: datetime) -> dict[str, object]:
        data: dict[str, object] = {"phone": self.phone, "code": self.code}
        if self.caller_id is not None:
            data["caller_id"] = self.caller_id
        data.update(purpose=self.purpose, locale=self.locale, text=self.text)
        return {"type": self.type, "timestamp": timestamp.isoformat(), "data": data}


class DeliveryError(Exception):
    """The provider did not accept the message (non-2xx, timeout, refused connection)."""


class Delivery(Protocol):
    async def send(self, message: CodeMessage, *, now: datetime) -> None: ...

    async def aclose(self) -> None: ...


class LogDelivery:
    """No webhook: in development the code is logged for the operator; in production never."""

    def __init__(self, *, reveal_codes: bool) -> None:
        self.reveal_codes = reveal_codes

    async def send(self, message: CodeMessage, *, now: datetime) -> None:
        if self.reveal_codes:
            extra = f" caller_id={message.caller_id}" if message.caller_id else ""
            log.warning("delivery type=%s phone=%s code=%s%s", message.type, message.phone, message.code, extra)
        else:
            log.info("delivery type=%s phone=%s (code withheld)", message.type, message.phone)

    async def aclose(self) -> None:
        return None


MAX_ANSWER_BYTES = 64 * 1024  # of a receiver's answer body, read and dropped


async def _drain(response: httpx.Response, limit: int) -> None:
    """Read and drop the answer's body, stopping after `limit` bytes."""
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > limit:
            return


class WebhookDelivery:
    """POSTs each message as JSON, signed per Standard Webhooks when a secret is set."""

    def __init__(
        self, url: str, *, secret: str | None, timeout: float, client: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url
        self.signer = Webhook(secret) if secret else None
        # httpx's timeout bounds each connect, write and read; `timeout` bounds the whole
        # delivery too, so a receiver that dribbles its answer cannot hold a request.
        self.timeout = timeout
        self.client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def send(self, message: CodeMessage, *, now: datetime) -> None:
        body = json.dumps(message.payload(now), ensure_ascii=False, separators=(",", ":"))
        headers = {"content-type": "application/json"}
        if self.signer is not None:
            msg_id = "msg_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()
            headers.update(
                {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": self.signer.sign(msg_id, now, body),
                }
            )
        request = self.client.build_request("POST", self.url, content=body.encode(), headers=headers)
        try:
            async with asyncio.timeout(self.timeout) as deadline:
                response = await self.client.send(request, stream=True)
        except (httpx.HTTPError, TimeoutError) as exc:
            reason = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            log.warning("delivery failed type=%s phone=%s: %s", message.type, message.phone, reason)
            raise DeliveryError(reason) from exc
        # The status is the answer. The body is read only to keep the connection for the
        # next delivery, and only a little of it, within the same deadline: a receiver's
        # endless or dribbled body is cut, never held in memory or waited for.
        try:
            async with asyncio.timeout_at(deadline.when()):
                await _drain(response, MAX_ANSWER_BYTES)
        except (httpx.HTTPError, TimeoutError):
            pass
        finally:
            await response.aclose()
        if not 200 <= response.status_code < 300:
            log.warning("delivery failed type=%s phone=%s: HTTP %s", message.type, message.phone, response.status_code)
            raise DeliveryError(f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()
