"""Access tokens: a verified token is remembered, but expiry and the key still decide."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.security import InvalidAccessToken, Keys, decode_access_token, encode_access_token

NOW = datetime.now(UTC).replace(microsecond=0)


def _token(keys: Keys, ttl: int = 60) -> str:
    return encode_access_token(keys, user_id=7, session_id="s-1", now=NOW, ttl=ttl)


def test_a_remembered_token_still_expires():
    keys = Keys.derive("a" * 32)
    token = _token(keys)
    claims = decode_access_token(keys, token, now=NOW.timestamp() + 1)
    assert (claims.user_id, claims.session_id) == (7, "s-1")
    assert decode_access_token(keys, token, now=NOW.timestamp() + 59) == claims
    with pytest.raises(InvalidAccessToken):
        decode_access_token(keys, token, now=NOW.timestamp() + 60)


def test_a_token_verified_under_one_key_is_not_accepted_under_another():
    keys, other = Keys.derive("a" * 32), Keys.derive("b" * 32)
    token = _token(keys)
    decode_access_token(keys, token, now=NOW.timestamp())
    with pytest.raises(InvalidAccessToken):
        decode_access_token(other, token, now=NOW.timestamp())


def test_a_tampered_token_is_refused_every_time():
    keys = Keys.derive("a" * 32)
    header, payload, signature = _token(keys).split(".")
    forged = f"{header}.{payload}.{signature[:-2]}AA"
    for _ in range(2):
        with pytest.raises(InvalidAccessToken):
            decode_access_token(keys, forged, now=NOW.timestamp())
