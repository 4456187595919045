"""Access tokens: a verified token is remembered, but expiry and the key still decide."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from core.security import InvalidAccessToken, Keys, decode_access_token, encode_access_token, new_session_id


@pytest.fixture
def now() -> datetime:
    """Taken when the test starts: PyJWT checks a token's first use against the real clock."""
    return datetime.now(UTC).replace(microsecond=0)


def _token(keys: Keys, now: datetime, ttl: int = 60) -> str:
    return encode_access_token(keys, user_id=7, session_id="s-1", now=now, ttl=ttl)


def test_a_remembered_token_still_expires(now):
    keys = Keys.derive("a" * 32)
    token = _token(keys, now)
    claims = decode_access_token(keys, token, now=now.timestamp() + 1)
    assert (claims.user_id, claims.session_id) == (7, "s-1")
    assert decode_access_token(keys, token, now=now.timestamp() + 59) == claims
    with pytest.raises(InvalidAccessToken):
        decode_access_token(keys, token, now=now.timestamp() + 60)


def test_a_token_verified_under_one_key_is_not_accepted_under_another(now):
    keys, other = Keys.derive("a" * 32), Keys.derive("b" * 32)
    token = _token(keys, now)
    decode_access_token(keys, token, now=now.timestamp())
    with pytest.raises(InvalidAccessToken):
        decode_access_token(other, token, now=now.timestamp())


def test_a_tampered_token_is_refused_every_time(now):
    keys = Keys.derive("a" * 32)
    header, payload, signature = _token(keys, now).split(".")
    flipped = "B" if signature[0] == "A" else "A"  # the first character carries six signature bits
    forged = f"{header}.{payload}.{flipped}{signature[1:]}"
    for _ in range(2):
        with pytest.raises(InvalidAccessToken):
            decode_access_token(keys, forged, now=now.timestamp())


def test_signed_tokens_are_standard_hs256_and_asymmetric_keys_are_still_refused(now):
    """The signer checks each key once: a token is what PyJWT itself would sign and
    verify, and a key shaped like an asymmetric one is refused on every try."""
    import dataclasses

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = Keys.derive("a" * 32)
    token = _token(keys, now)
    header, claims = jwt.get_unverified_header(token), jwt.decode(token, keys.jwt, algorithms=["HS256"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["sub"] == "7" and claims["sid"] == "s-1" and claims["exp"] - claims["iat"] == 60
    assert token == jwt.encode(claims, keys.jwt, algorithm="HS256")
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for _ in range(2):
        with pytest.raises(jwt.InvalidKeyError):
            _token(dataclasses.replace(keys, jwt=pem), now)


def test_session_ids_are_time_ordered_uuids():
    # new sessions are appended to the session index instead of written into a random page
    ids = [new_session_id() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(uuid.UUID(value).version == 7 for value in ids)
