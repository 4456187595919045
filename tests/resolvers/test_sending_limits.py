"""Sending limits of the codes engine, seen through the seed 004 send endpoint."""

from __future__ import annotations

import asyncio

import httpx
import pytest

SEND = "/api/v2/auth/send/otp"
PHONE = "+79161234567"


def phones(n: int) -> list[str]:
    return [f"+7916123{i:04d}" for i in range(n)]


@pytest.mark.settings(otp_resend_seconds=0, sms_daily_quota=2)
async def test_daily_quota_per_phone(client, deliveries):
    assert [(await client.post(SEND, json={"phone": PHONE})).status_code for _ in range(3)] == [201, 201, 429]
    assert len(deliveries.to(PHONE)) == 2
    assert (await client.post(SEND, json={"phone": "+79161234568"})).status_code == 201


@pytest.mark.settings(otp_resend_seconds=0, sms_daily_quota=1)
async def test_failed_delivery_uses_no_quota(client, deliveries):
    deliveries.failing = True
    assert (await client.post(SEND, json={"phone": PHONE})).status_code == 500
    deliveries.failing = False
    assert (await client.post(SEND, json={"phone": PHONE})).status_code == 201


@pytest.mark.settings(ip_sends_per_hour=3)
async def test_sends_per_client_address_ignore_forwarded_headers(client, deliveries):
    statuses = [
        (await client.post(SEND, json={"phone": phone}, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
        for i, phone in enumerate(phones(4))
    ]
    assert statuses == [201, 201, 201, 429]
    assert len(deliveries.messages) == 3


@pytest.mark.settings(ip_sends_per_hour=1)
async def test_ipv6_senders_are_counted_by_their_64_network(app, deliveries):
    """A client holding a /64 could otherwise send from a new address every time."""

    async def send_from(address: str, phone: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return (await http.post(SEND, json={"phone": phone})).status_code

    first, same_64, other_64, mapped = phones(4)
    assert await send_from("2001:db8:0:1::1", first) == 201
    assert await send_from("2001:db8:0:1:ffff::2", same_64) == 429
    assert await send_from("2001:db8:0:2::1", other_64) == 201
    assert await send_from("::ffff:198.51.100.7", mapped) == 201  # an IPv4 client, by its own address
    assert len(deliveries.messages) == 3


@pytest.mark.settings(ip_sends_per_hour=1, trusted_proxies=["203.0.113.0/24"])
async def test_trusted_proxy_forwards_the_client_address(client, deliveries):
    statuses = [
        (await client.post(SEND, json={"phone": phone}, headers={"X-Forwarded-For": f"198.51.100.{i}"})).status_code
        for i, phone in enumerate(phones(3))
    ]
    assert statuses == [201, 201, 201]
    same = await client.post(SEND, json={"phone": "+79169999999"}, headers={"X-Forwarded-For": "198.51.100.0"})
    assert same.status_code == 429


@pytest.mark.settings(sms_hourly_limit=2)
async def test_hourly_cap_over_all_deliveries(client, deliveries):
    statuses = [(await client.post(SEND, json={"phone": phone})).status_code for phone in phones(3)]
    assert statuses == [201, 201, 429]


async def test_parallel_sends_to_one_phone_deliver_once(client, deliveries):
    responses = await asyncio.gather(*[client.post(SEND, json={"phone": PHONE}) for _ in range(20)])
    assert sorted(r.status_code for r in responses) == [201] + [429] * 19
    assert len(deliveries.to(PHONE)) == 1


@pytest.mark.settings(ip_sends_per_hour=5, otp_resend_seconds=0)
async def test_parallel_sends_cannot_pass_the_address_cap(client, deliveries):
    responses = await asyncio.gather(*[client.post(SEND, json={"phone": phone}) for phone in phones(30)])
    assert sum(r.status_code == 201 for r in responses) == 5
    assert len(deliveries.messages) == 5


@pytest.mark.settings(otp_resend_seconds=0, sms_daily_quota=1, ip_sends_per_hour=3, sms_hourly_limit=3)
async def test_a_send_refused_by_one_limit_uses_up_none_of_the_others(client, deliveries):
    """The caps are counted in one statement; a refusal (here the phone's daily quota)
    takes back what the address's and the global hourly caps counted."""
    assert (await client.post(SEND, json={"phone": PHONE})).status_code == 201
    refused = [await client.post(SEND, json={"phone": PHONE}) for _ in range(3)]
    assert [r.status_code for r in refused] == [429, 429, 429]
    assert {r.json()["code"] for r in refused} == {40}
    # the address and the hour still have two sends left of three
    assert [(await client.post(SEND, json={"phone": phone})).status_code for phone in phones(3)] == [201, 201, 429]
    assert len(deliveries.messages) == 3


@pytest.mark.settings(ip_sends_per_hour=2, trusted_proxies=["203.0.113.0/24"])
async def test_a_forwarded_hop_that_is_no_address_counts_as_the_proxy(client, deliveries):
    """Whatever a client writes into X-Forwarded-For, limit keys stay short (a 300-character
    hop was a 500 on PostgreSQL) and garbage does not buy a fresh address cap."""
    junk = ["x" * 300, "not-an-ip", "y" * 300]
    statuses = [
        (await client.post(SEND, json={"phone": phone}, headers={"X-Forwarded-For": hop})).status_code
        for phone, hop in zip(phones(3), junk, strict=True)
    ]
    assert statuses == [201, 201, 429]
    zoned = await client.post(SEND, json={"phone": "+79169999999"}, headers={"X-Forwarded-For": "fe80::1%" + "z" * 300})
    assert zoned.status_code == 201
    assert len(deliveries.messages) == 3
