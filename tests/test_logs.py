"""Access-log lines never carry a code or a refresh token, however the client spelt the URL."""

from __future__ import annotations

import logging

import pytest

from washgate.logs import RedactAccessLog, loggable_path

ORDER = "61077606-b88b-4de1-9c57-6f0a97570953"


def access_line(path: str) -> str:
    """The access line uvicorn would write for `path`, through washgate's filter."""
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", path, "1.1", 200),
        None,
    )
    assert RedactAccessLog().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        (f"/v1/auth/{ORDER}/3772", f"/v1/auth/{ORDER}/***"),
        (f"/v1/auth/{ORDER}//3772", f"/v1/auth/{ORDER}//***"),
        ("/v1/auth//3772", "/v1/auth//***"),
        ("/v1/auth/3772", "/v1/auth/***"),
        (f"/v1//auth/{ORDER}/3772", f"/v1//auth/{ORDER}/***"),
        (f"/V1/Auth/{ORDER}/3772", f"/V1/Auth/{ORDER}/***"),
        (f"/v1/auth/{ORDER}/3772/", f"/v1/auth/{ORDER}/***/"),
        (f"/v1/auth/{ORDER}/x3772x?fields=1", f"/v1/auth/{ORDER}/***?fields=1"),
        (f"/v1/auth/{ORDER.upper().replace('-', '')}/3772", f"/v1/auth/{ORDER.upper().replace('-', '')}/***"),
        ("/v1/auth/phone/bind", "/v1/auth/phone/bind"),
        ("/api/v2/auth/refresh?refreshToken=abc123&x=1", "/api/v2/auth/refresh?refreshToken=***&x=1"),
        ("/anything?otp=1234", "/anything?otp=***"),
        ("/api/v2/auth/refresh?refresh%54oken=abc", "/api/v2/auth/refresh?refresh%54oken=***"),
        (
            "/api/v2/auth/refresh?REFRESHTOKEN=abc&refresh_token=def",
            "/api/v2/auth/refresh?REFRESHTOKEN=***&refresh_token=***",
        ),
        ("/auth/oauth/x?p%69n=1234&a=b", "/auth/oauth/x?p%69n=***&a=b"),
        ("/x?otp", "/x?otp"),
        ("/v1/orders", "/v1/orders"),
    ],
)
def test_codes_in_paths_and_secrets_in_queries_are_redacted(path, logged):
    assert access_line(path) == f'127.0.0.1:1 - "GET {logged} HTTP/1.1" 200'


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/v2/auth/login", "/api/v2/auth/login"),
        ("/v1/auth/1f0c2b9e-8d1a-4c3e-9b7a-2d4e6f8a0b1c/1234", "/v1/auth/1f0c2b9e-8d1a-4c3e-9b7a-2d4e6f8a0b1c/***"),
        ("/graphql\n2026-12-06 ERROR washgate: forged", "/graphql\\n2026-12-06 ERROR washgate: forged"),
        ("/carwashes/1.x/заказ\r\x1b[31m", "/carwashes/1.x/\\u0437\\u0430\\u043a\\u0430\\u0437\\r\\x1b[31m"),
    ],
)
def test_paths_in_washgates_own_log_lines_are_redacted_and_cannot_forge_lines(path, logged):
    assert loggable_path(path) == logged
