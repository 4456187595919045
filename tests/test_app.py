"""The shell: health, GraphQL transport rules and limits, production mode, the secret key."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from graphql import parse
from sqlmodel import select
from starlette.requests import Request

from models import ServerSecret
from rest_compat.base import request_path
from schema.extensions import MAX_KEPT_QUERY_CHARS, DocumentCache
from tests.conftest import make_settings
from tests.support import gql
from washgate.app import ConfigurationError, create_app

ME = "query { me { id } }"


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_openapi_document_lists_the_legacy_paths(client):
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert "post" in document["paths"]["/api/v2/auth/send/otp"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/api/v2/auth/login" in docs.text


async def test_too_many_aliases_are_refused(client, deliveries):
    fields = " ".join(f'a{i}: sendOtp(input: {{phone: "+7916123456{i % 10}"}}) {{ __typename }}' for i in range(16))
    result = await gql(client, f"mutation {{ {fields} }}")
    assert result["data"] is None
    assert "aliases" in result["errors"][0]["message"]
    assert result["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED"}
    assert deliveries.messages == []


@pytest.mark.settings(graphql_max_depth=1)
async def test_depth_limit_ignores_introspection(client):
    deep = await gql(client, "query { me { phone { number } } }")
    assert "exceeds maximum operation depth" in deep["errors"][0]["message"]
    introspection = await gql(
        client, "query { __schema { types { name fields { name type { name ofType { name } } } } } }"
    )
    assert "errors" not in introspection and introspection["data"]["__schema"]["types"]


@pytest.mark.settings(graphql_max_tokens=50)
async def test_token_limit(client):
    query = "query {" + " ".join(["me { id }"] * 30) + "}"
    result = await gql(client, query)
    assert result["data"] is None and "token" in result["errors"][0]["message"].lower()
    assert result["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED"}


def _doubling_fragments(count: int, last: str = "__typename") -> str:
    """`count` fragments, each spreading the next one twice: 2**count fields once spread."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(count))
    return f"query {{ ...F0 }} {chain} fragment F{count} on Query {{ {last} }}"


@pytest.mark.parametrize("last", ["__typename", "nope"])
async def test_fragments_that_multiply_are_refused_at_once(client, last):
    """Strawberry's depth and alias limiters walk every spread: 21 such fragments held the
    event loop for 6 s (each more doubles it), valid or not (`nope` is no field)."""
    started = asyncio.get_running_loop().time()
    result = await gql(client, _doubling_fragments(22, last))
    assert asyncio.get_running_loop().time() - started < 1
    [error] = result["errors"]
    assert error["message"] == "The document selects 4194304 fields once its fragments are spread; the limit is 2000."
    assert error["extensions"] == {"code": "VALIDATION_FAILED"} and result["data"] is None


async def test_fragments_within_the_limit_still_run(client):
    result = await gql(client, _doubling_fragments(9))  # 512 fields, all __typename
    assert result == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("query { ...Nope }", "Unknown fragment 'Nope'."),
        ("query { ...A } fragment A on Query { ...B } fragment B on Query { ...Nope }", "Unknown fragment 'Nope'."),
        ("query { ...A } fragment A on Query { ...A }", "Cannot spread fragment 'A' within itself."),
        ("query { me(x: " + "9" * 4400 + ") { id } }", "An integer literal has more than 100 digits."),
        ("query($v: Int = -" + "9" * 4400 + ") { __typename }", "An integer literal has more than 100 digits."),
    ],
)
async def test_documents_the_checks_would_choke_on_are_validation_errors(client, caplog, query, message):
    """Unknown fragments raised KeyError in the depth limiter, and int() refuses 4300+ digits:
    both were masked as INTERNAL_ERROR with a traceback in the log."""
    result = await gql(client, query)
    assert [error["message"] for error in result["errors"]] == [message]
    assert result["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED"}
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


LOGIN_VARIABLE = "mutation($i: LoginInput!) { login(input: $i) { __typename } }"


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            'mutation { login(input: {phone: "+79990000001", otp: 4821}) { __typename } }',
            None,
            "String cannot represent a non string value.",
        ),
        (
            LOGIN_VARIABLE,
            {"i": {"phone": "+79990000001", "otp": 4821}},
            "Variable '$i' has invalid value at .otp: String cannot represent a non string value.",
        ),
        (
            LOGIN_VARIABLE,
            {"i": {"phone": "+79990000001", "otp": "4821", "extra": 1}},
            "Variable '$i' has invalid value: Expected value of type 'LoginInput' not to include unknown field"
            " 'extra'.",
        ),
        (
            'mutation { login(input: {phone: "+79990000001", otp: "4821", x: 1}) { __typename } }',
            None,
            "Expected value of type 'LoginInput' not to include unknown field 'x'.",
        ),
        (
            "mutation($t: String!) { refreshTokens(input: {refreshToken: $t}) { __typename } }",
            {"t": ["1.Zk3xQ9"]},
            "Variable '$t' has invalid value: String cannot represent a non string value.",
        ),
    ],
)
async def test_a_refused_value_is_not_quoted_back(client, query, variables, message):
    """graphql-core quotes the value it refuses: a code or token of the wrong type came back."""
    result = await gql(client, query, variables)
    assert [error["message"] for error in result["errors"]] == [message]
    assert result["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED"}


async def test_several_operations_need_an_operation_name(client, deliveries):
    document = 'query Viewer { me { id } } mutation Send { sendOtp(input: {phone: "+79161234567"}) { __typename } }'
    for _ in range(2):  # a new text, then a kept one
        refused = await gql(client, document)
        assert refused == {
            "data": None,
            "errors": [
                {
                    "message": "Must provide operation name if query contains multiple operations.",
                    "extensions": {"code": "VALIDATION_FAILED"},
                }
            ],
        }
    assert deliveries.messages == []
    named = await client.post("/graphql", json={"query": document, "operationName": "Send"})
    assert named.json() == {"data": {"sendOtp": {"__typename": "OtpSent"}}}
    assert [message.phone for message in deliveries.messages] == ["+79161234567"]
    assert await gql(client, "query Only { me { id } }") == {"data": {"me": None}}


async def test_an_invalid_query_is_validation_failed_with_suggestions_in_development(client):
    result = await gql(client, "{ me { idd } }")
    assert result["data"] is None
    [error] = result["errors"]
    assert error["message"] == "Cannot query field 'idd' on type 'User'. Did you mean 'id'?"
    assert error["extensions"] == {"code": "VALIDATION_FAILED"}


async def test_a_refused_text_is_refused_every_time_and_a_kept_one_still_runs(client, deliveries):
    """Validated documents are kept by query text; refused ones are not."""
    fields = " ".join(f'a{i}: sendOtp(input: {{phone: "+7916123456{i % 10}"}}) {{ __typename }}' for i in range(16))
    for _ in range(3):
        result = await gql(client, f"mutation {{ {fields} }}")
        assert result["data"] is None and "aliases" in result["errors"][0]["message"]
    assert deliveries.messages == []
    for _ in range(3):
        assert await gql(client, ME) == {"data": {"me": None}}
    unknown = await gql(client, "query { me { nosuchfield } }")
    assert "nosuchfield" in unknown["errors"][0]["message"]


async def test_documents_kept_by_one_schema_are_checked_again_by_another(database_url):
    """Two apps in one process with different limits: a text one accepted is not
    waved through by the other."""
    query = "query { me { phone { number } } }"
    answers = []
    for depth in (5, 1):
        app = create_app(make_settings(database_url, graphql_max_depth=depth))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                answers.append(await gql(http, query))
    assert answers[0] == {"data": {"me": None}}
    assert "exceeds maximum operation depth" in answers[1]["errors"][0]["message"]


async def test_mutations_only_by_json_post(client, deliveries):
    by_get = await client.get(
        "/graphql", params={"query": 'mutation { sendOtp(input: {phone: "+79161234567"}) { __typename } }'}
    )
    assert by_get.status_code in (400, 405) and deliveries.messages == []
    form = await client.post(
        "/graphql", data={"query": 'mutation { sendOtp(input: {phone: "+79161234567"}) { __typename } }'}
    )
    assert form.status_code == 400
    assert form.json()["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert deliveries.messages == []


async def test_batched_operations_are_refused(client, deliveries):
    response = await client.post("/graphql", json=[{"query": ME}, {"query": ME}])
    assert response.status_code == 400
    assert response.json()["errors"]


async def test_graphql_body_over_the_limit_is_413(client):
    response = await client.post(
        "/graphql", content=b'{"query": "' + b"a" * 1_100_000 + b'"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_bad_json_on_graphql_is_a_json_error(client):
    response = await client.post("/graphql", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


async def test_unknown_path_outside_the_legacy_apis(client):
    response = await client.get("/nowhere")
    assert response.status_code == 404 and response.json() == {"detail": "Not found"}


async def test_graphql_messages_follow_accept_language(client):
    result = await gql(
        client,
        'mutation { sendOtp(input: {phone: "12"}) { ... on Error { message } } }',
        headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
    )
    assert result["data"]["sendOtp"]["message"] == "Номер телефона должен быть корректным"


async def test_production_refuses_to_start_without_key_and_webhook(database_url):
    app = create_app(make_settings(database_url, env="production", secret_key=None))
    with pytest.raises(ConfigurationError) as error:
        async with app.router.lifespan_context(app):
            pass
    assert "WASHGATE_SECRET_KEY" in str(error.value) and "WASHGATE_DELIVERY_WEBHOOK_URL" in str(error.value)


async def test_production_turns_off_graphiql_and_introspection(database_url):
    settings = make_settings(database_url, env="production", delivery_webhook_url="http://127.0.0.1:9/hook")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            page = await http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code in (404, 405) or "graphiql" not in page.text.lower()
            result = await gql(http, "{ __schema { queryType { name } } }")
            assert result["data"] is None and "introspection" in result["errors"][0]["message"].lower()
            # nor do errors name what introspection would have listed
            guess = await gql(http, "{ me { idd } }")
            assert guess["errors"][0]["message"] == "Cannot query field 'idd' on type 'User'."
            variable = await gql(
                http,
                'mutation($c: OtpChannel!) { sendOtp(input: {phone: "+79161234567", channel: $c}) { __typename } }',
                {"c": "SMZ"},
            )
            assert "Did you mean" not in variable["errors"][0]["message"], variable
            assert variable["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED"}


async def test_generated_secret_key_is_stored_once_and_reused(database_url, fetch):
    tokens = []
    for _ in range(2):
        app = create_app(make_settings(database_url, secret_key=None))
        async with app.router.lifespan_context(app):
            tokens.append(app.state.services.keys.jwt)
    assert tokens[0] == tokens[1]
    assert len(await fetch(select(ServerSecret))) == 1


async def test_code_may_be_asked_on_a_success_type_and_on_error_at_once(client):
    query = """
    mutation Create($phone: String!) {
      createVerification(input: {phone: $phone}) {
        __typename
        ... on Verification { id code }
        ... on Error { code message }
      }
    }"""
    result = await gql(client, query, {"phone": "+79161234567"})
    assert "errors" not in result
    assert result["data"]["createVerification"]["__typename"] == "OperationError"
    assert result["data"]["createVerification"]["code"] == "UNAUTHENTICATED"


async def test_different_fields_under_one_name_are_still_refused(client):
    result = await gql(client, "query { me { x: id x: name } }")
    assert "conflict" in result["errors"][0]["message"]


async def test_carwash_order_code_and_error_code_in_one_selection(client):
    query = """
    mutation Pay($token: String!) {
      confirmCarwashPayment(input: {payToken: $token}) {
        __typename
        ... on CarwashOrder { id status code }
        ... on Error { code message }
      }
    }"""
    result = await gql(client, query, {"token": "payment:forged"})
    assert "errors" not in result
    assert result["data"]["confirmCarwashPayment"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v2/auth/send/otp", {"code": None, "type": "server", "message": "Internal server error"}),
        ("POST", "/v1/auth/phone/bind", {"code": "internalError"}),
        ("GET", "/carwashes/1.x/user/phone", {"code": "INTERNAL_ERROR", "message": "Внутренняя ошибка сервера"}),
    ],
)
async def test_an_unexpected_failure_is_a_500_in_the_api_shape(app, monkeypatch, caplog, method, path, body):
    from resolvers import otp_auth, sessions

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(otp_auth, "send_otp", broken)
    monkeypatch.setattr(sessions, "authenticate", broken)
    # nothing reaches the server: uvicorn closes the connection on an error the app raises
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.request(
            method, path, json={"phone": "+79161234567"}, headers={"Authorization": "OAuth x.y.z"}
        )
    assert response.status_code == 500
    got = response.json()
    for key, value in body.items():
        assert got[key] == value
    assert "Traceback" not in response.text and "database went away" not in response.text
    assert any("database went away" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_an_unexpected_failure_in_graphql_is_masked(app, monkeypatch):
    from resolvers import otp_auth

    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(otp_auth, "send_otp", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        result = await gql(http, 'mutation { sendOtp(input: {phone: "+79161234567"}) { __typename } }')
    assert result["data"] is None
    assert result["errors"][0]["message"] == "Unexpected error."


@pytest.mark.parametrize("body", [b"null", b'"x"', b"1e999", b"[" * 5000 + b"]" * 5000, b"\xff\xfe\x00", b"[1, 2]"])
async def test_graphql_bodies_that_are_not_one_json_object_are_400(client, body):
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"


def test_the_legacy_path_is_the_one_starlette_gives():
    """rest_compat.base.request_path skips building request.url; it must say the same."""
    for path in ("/api/v2/auth/login", "/api/v2/a?b#c\\d", "/api/v2/é", "/api/v2/%2F"):
        request = Request({"type": "http", "path": path, "headers": [], "query_string": b"", "server": ("h", 80)})
        assert request_path(request) == request.url.path


def test_long_query_texts_are_checked_every_time_and_never_kept():
    documents = DocumentCache(rules=[], max_tokens=100)
    short, long = "{ me { id } }", "{ me { id } }" + " " * MAX_KEPT_QUERY_CHARS
    documents.keep(short, parse(short))
    documents.keep(long, parse(long))
    assert documents.get(short) is not None and documents.get(long) is None


PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


async def test_no_cross_origin_access_unless_origins_are_listed(client, deliveries):
    assert (await client.options("/graphql", headers=PREFLIGHT)).status_code == 405
    response = await client.post("/graphql", json={"query": ME}, headers={"Origin": "https://app.example"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


@pytest.mark.settings(cors_origins=["https://app.example"])
async def test_listed_origins_may_call_from_a_browser(client, deliveries):
    preflight = await client.options("/graphql", headers=PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert {"authorization", "content-type"} <= set(
        preflight.headers["access-control-allow-headers"].lower().split(", ")
    )
    refused = await client.options("/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    sent = await client.post(
        "/api/v2/auth/send/otp", json={"phone": "+79161234567"}, headers={"Origin": "https://app.example"}
    )
    assert sent.status_code == 201 and sent.headers["access-control-allow-origin"] == "https://app.example"
    again = await client.post(
        "/api/v2/auth/send/otp", json={"phone": "+79161234567"}, headers={"Origin": "https://app.example"}
    )
    assert again.status_code == 429 and again.headers["access-control-expose-headers"] == "Retry-After"


@pytest.mark.settings(database_pool_size=1, database_max_overflow=0)
async def test_the_postgres_pool_size_caps_the_connections_a_process_opens(database_url, client, deliveries):
    if not database_url.startswith("postgresql"):
        pytest.skip("a connection pool is PostgreSQL's (set WASHGATE_TEST_POSTGRES_URL)")
    import asyncpg

    phones = [f"+7916123450{i}" for i in range(8)]
    responses = await asyncio.gather(*(client.post("/api/v2/auth/send/otp", json={"phone": p}) for p in phones))
    assert [response.status_code for response in responses] == [201] * 8  # queued for the one connection
    assert sorted(message.phone for message in deliveries.messages) == phones
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        opened = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    assert opened <= 2  # the pool's one connection and the event bus's listener
