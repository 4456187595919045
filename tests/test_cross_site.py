"""Browsers' cross-site writes to the legacy REST APIs (washgate.cross_site)."""

from __future__ import annotations

import pytest

SEND = "/api/v2/auth/send/otp"
BODY = '{"phone":"+79161234567"}'
MESSAGE = "Requests from another site's pages are not accepted"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json"])
async def test_a_page_on_another_site_cannot_make_a_browser_send_codes(client, deliveries, content_type):
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": content_type}
    response = await client.post(SEND, content=BODY, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["type"], body["message"], body["path"]) == (40, "api_client", MESSAGE, SEND)
    assert deliveries.messages == []


async def test_each_api_refuses_in_its_own_shape(client, deliveries):
    evil = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}  # a sandboxed page
    robot_call = await client.post("/auto_call/79161234567", headers=evil)  # a form post with no body
    assert (robot_call.status_code, robot_call.json()) == (400, {"errors": {"forbidden": [MESSAGE]}})
    binding = await client.post("/v1/auth/phone/bind", content="{}", headers=evil)
    assert (binding.status_code, binding.json()) == (400, {"code": "invalidRequest"})
    order = await client.post("/carwashes/1.x/order", content="{}", headers=evil)
    assert order.status_code == 422
    assert order.json() == {"code": "FORBIDDEN", "message": "Запросы со страниц других сайтов не принимаются"}
    assert deliveries.messages == []


async def test_apps_servers_and_the_servers_own_pages_are_served(client, deliveries):
    assert (await client.post(SEND, content=BODY)).status_code == 201  # not a browser
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
    assert (await client.post(SEND, content='{"phone":"+79161234568"}', headers=own)).status_code == 201
    # seed 002's own Origin header ("the source of requests") is no browser's
    app = {"Origin": "https://app.example", "Content-Type": "application/json"}
    assert (await client.post(SEND, content='{"phone":"+79161234569"}', headers=app)).status_code == 201
    assert len(deliveries.messages) == 3


async def test_reading_is_not_refused(client):
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    response = await client.get("/carwashes/1.x/user/phone", headers=headers)
    assert response.status_code == 401  # the usual answer without a token


@pytest.mark.settings(cors_origins=["https://app.example"])
async def test_a_listed_origin_is_served(client, deliveries):
    headers = {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}
    assert (await client.post(SEND, content=BODY, headers=headers)).status_code == 201
    other = {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}
    assert (await client.post(SEND, content='{"phone":"+79161234568"}', headers=other)).status_code == 400
    assert len(deliveries.messages) == 1
