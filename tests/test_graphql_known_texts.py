"""A query text the schema has already validated runs without Strawberry's view and
Schema.execute (washgate/graphql_app.py `run_known`): every answer must be the one the
first, fully checked request got."""

from __future__ import annotations

import gc
import logging
from typing import Any

import httpx
import pytest

from schema.extensions import WashgateSchema
from tests.support import gql

SEND_OTP = """
mutation Send($input: SendOtpInput!) {
  sendOtp(input: $input) {
    __typename ... on OtpSent { phone codeLength } ... on Error { code message } ... on ValidationError { field }
  }
}"""
REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) { __typename ... on AuthSuccess { tokens { accessToken } } ... on Error { code } }
}"""
ME = "query Me { me { id name phone { number masked } cards { number balance } } }"
TWO_OPERATIONS = "query A { __typename } query B { me { id } }"


@pytest.fixture
def full_runs(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The query texts that went through Strawberry's Schema.execute (the fully checked path)."""
    seen: list[str | None] = []
    original = WashgateSchema.execute

    async def counted(self: Any, query: str | None, *args: Any, **kwargs: Any) -> Any:
        seen.append(query)
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(WashgateSchema, "execute", counted)
    return seen


async def twice(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """POST the same body twice; both answers (status and JSON) must be equal."""
    first = await client.post("/graphql", json=body, headers=headers or {})
    second = await client.post("/graphql", json=body, headers=headers or {})
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"
    return first.status_code, first.json()


async def signed_in(client: httpx.AsyncClient, deliveries: Any, phone: str) -> str:
    await gql(client, SEND_OTP, {"input": {"phone": phone}})
    result = await gql(
        client, REGISTER, {"input": {"phone": phone, "otp": deliveries.last_code(phone), "termsAccepted": True}}
    )
    return str(result["data"]["register"]["tokens"]["accessToken"])


async def test_a_known_text_runs_directly_with_the_same_answers(client, deliveries, full_runs):
    token = await signed_in(client, deliveries, "+79161230001")
    full_runs.clear()
    auth = {"Authorization": f"Bearer {token}"}
    status, answer = await twice(client, {"query": ME}, auth)
    assert status == 200
    assert answer["data"]["me"]["phone"] == {"number": "+79161230001", "masked": "+7 916 ***-**-01"}
    assert answer["data"]["me"]["cards"] == [{"number": "79161230001", "balance": 0}]
    # anonymous, and a bad token (a GraphQL error with its code), with the same text
    assert await twice(client, {"query": ME}) == (200, {"data": {"me": None}})
    status, bad = await twice(client, {"query": ME}, {"Authorization": "Bearer nope"})
    assert bad["data"] == {"me": None} and bad["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # only the first request of the text was checked by Strawberry
    assert full_runs == [ME]


async def test_mutations_with_variables_union_errors_and_selected_operations(client, deliveries, full_runs):
    refused = {"query": SEND_OTP, "variables": {"input": {"phone": "not a phone"}}}
    status, answer = await twice(client, refused)
    assert answer["data"]["sendOtp"]["__typename"] == "ValidationError"
    assert answer["data"]["sendOtp"]["field"] == "phone"
    # a variable of the wrong type is an error of the request, every time
    wrong_type = {"query": SEND_OTP, "variables": {"input": {"phone": 7}}}
    status, answer = await twice(client, wrong_type)
    assert answer["data"] is None and "phone" in answer["errors"][0]["message"]
    # the same text with another phone runs directly and delivers once
    sent = await gql(client, SEND_OTP, {"input": {"phone": "+79161230002"}})
    assert sent["data"]["sendOtp"] == {"__typename": "OtpSent", "phone": "+79161230002", "codeLength": 4}
    assert len(deliveries.to("+79161230002")) == 1
    # operationName picks one of several operations; without it the request is refused
    assert await twice(client, {"query": TWO_OPERATIONS, "operationName": "A"}) == (
        200,
        {"data": {"__typename": "Query"}},
    )
    assert await twice(client, {"query": TWO_OPERATIONS, "operationName": "B"}) == (200, {"data": {"me": None}})
    # without a name, or with an unknown one, Strawberry answers (each time, the same)
    await twice(client, {"query": TWO_OPERATIONS})
    status, answer = await twice(client, {"query": TWO_OPERATIONS, "operationName": "C"})
    assert status == 400 and answer["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert full_runs.count(SEND_OTP) == 1 and full_runs.count(TWO_OPERATIONS) == 5  # A once; no name and C twice each


@pytest.mark.settings(otp_resend_seconds=0)
async def test_kept_subfields_follow_the_variables_of_skip_and_include_and_the_union_member(client, deliveries):
    token = await signed_in(client, deliveries, "+79161230003")
    auth = {"Authorization": f"Bearer {token}"}
    query = (
        "query Me($full: Boolean!) { me { id phone @include(if: $full) { number } cards @skip(if: $full) { number } } }"
    )
    for full in (True, False, True, False):
        result = (
            await client.post("/graphql", json={"query": query, "variables": {"full": full}}, headers=auth)
        ).json()
        me = result["data"]["me"]
        if full:
            assert set(me) == {"id", "phone"} and me["phone"] == {"number": "+79161230003"}
        else:
            assert set(me) == {"id", "cards"} and me["cards"] == [{"number": "79161230003"}]
    # one text, two members of a union, each with its own fields
    login = """
    mutation Login($phone: String!, $otp: String!) {
      login(input: {phone: $phone, otp: $otp}) {
        __typename ... on RegistrationRequired { phone } ... on AuthSuccess { user { phone { number } } }
      }
    }"""
    for phone, expected in (
        ("+79161230004", {"__typename": "RegistrationRequired", "phone": "+79161230004"}),
        ("+79161230003", {"__typename": "AuthSuccess", "user": {"phone": {"number": "+79161230003"}}}),
        ("+79161230004", {"__typename": "RegistrationRequired", "phone": "+79161230004"}),
    ):
        await gql(client, SEND_OTP, {"input": {"phone": phone}})
        answer = await gql(client, login, {"phone": phone, "otp": deliveries.last_code(phone)})
        assert answer == {"data": {"login": expected}}


async def test_unexpected_failures_are_masked_and_logged_every_time(app, monkeypatch, caplog):
    from resolvers import otp_auth

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(otp_auth, "send_otp", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        with caplog.at_level(logging.ERROR, logger="washgate.graphql"):
            status, answer = await twice(http, {"query": SEND_OTP, "variables": {"input": {"phone": "+79161230003"}}})
    assert status == 200 and answer["data"] is None
    assert answer["errors"][0]["message"] == "Unexpected error."
    assert "database went away" not in str(answer)
    logged = [r for r in caplog.records if r.exc_info and "database went away" in str(r.exc_info[1])]
    assert len(logged) == 2


async def test_subscriptions_need_a_websocket_or_a_stream(client, full_runs, caplog):
    """Strawberry's view runs a subscription sent by a plain POST as a query (an unexpected
    error); washgate refuses it, every time, and logs nothing."""
    subscription = "subscription { carwashOrderUpdated { __typename } }"
    with caplog.at_level(logging.ERROR):
        status, answer = await twice(client, {"query": subscription})
    assert status == 400
    assert answer == {
        "data": None,
        "errors": [
            {"message": "subscriptions are not allowed when using POST", "extensions": {"code": "VALIDATION_FAILED"}}
        ],
    }
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert full_runs == [subscription, subscription]


async def test_other_methods_and_content_types_keep_strawberrys_path(client, full_runs):
    query = "query { __typename }"
    assert await gql(client, query) == {"data": {"__typename": "Query"}}
    as_text = await client.post(
        "/graphql", content=b'{"query": "query { __typename }"}', headers={"content-type": "text/plain"}
    )
    assert as_text.status_code == 400 and as_text.json()["errors"][0]["message"] == "Unsupported content type"
    by_get = await client.get("/graphql", params={"query": query})
    assert by_get.status_code == 400
    assert by_get.json()["errors"][0]["message"] == "queries are not allowed when using GET"
    assert full_runs == [query, query]  # the first POST, and the GET (which Strawberry refuses)


async def test_an_answered_request_leaves_no_executor_for_the_cycle_collector(client, deliveries):
    """graphql-core's executor refers to itself; washgate's lets it go with the request,
    so GraphQL requests do not feed the cyclic garbage collector (whose pauses were the
    server's longest)."""
    from graphql.execution.executor import Executor

    token = await signed_in(client, deliveries, "+79161230004")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            await gql(client, ME, token=token)
            await gql(client, SEND_OTP, {"input": {"phone": "not a phone"}})
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, Executor)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


async def test_a_failure_outside_any_resolver_is_a_masked_error_on_both_paths(app, monkeypatch, caplog):
    """Strawberry's Schema.execute answers a failure of the executor itself with a (masked)
    error; the direct path must not turn it into a 500."""
    from schema.extensions import AcyclicExecutionContext

    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("executor went away")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert await gql(http, ME) == {"data": {"me": None}}  # the text is kept
        monkeypatch.setattr(AcyclicExecutionContext, "__init__", broken)
        with caplog.at_level(logging.ERROR, logger="washgate.graphql"):
            status, answer = await twice(http, {"query": ME})
            fresh = await gql(http, "query Fresh { me { id } }")  # a new text: Strawberry's path
    assert status == 200
    masked = {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_ERROR"}}
    assert answer == fresh == {"data": None, "errors": [masked]}
    assert len([r for r in caplog.records if r.exc_info and "executor went away" in str(r.exc_info[1])]) == 3
