"""Security primitives: derived keys, JWTs, keyed code hashes, opaque tokens, passwords."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import jwt
import orjson
import uuid_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS

JWT_ALGORITHM = "HS256"
_password_hasher = PasswordHasher()
# Verified against when an account does not exist, so timing does not tell.
DUMMY_PASSWORD_HASH = _password_hasher.hash("washgate-dummy-password")


@dataclass(frozen=True)
class Keys:
    """Purpose-bound keys derived (HKDF) from the one deployment secret."""

    jwt: bytes
    codes: bytes
    tokens: bytes
    fernet: Fernet
    demo: bytes

    @classmethod
    def derive(cls, secret: str) -> Keys:
        def sub(label: str) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(secret.encode())

        return cls(
            jwt=sub("washgate/jwt"),
            codes=sub("washgate/codes"),
            tokens=sub("washgate/tokens"),
            fernet=Fernet(base64.urlsafe_b64encode(sub("washgate/pay-tokens"))),
            demo=sub("washgate/demo"),
        )


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


# --- codes -----------------------------------------------------------------


def generate_code(length: int) -> str:
    """A uniformly random decimal code of `length` digits (leading zeros allowed)."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def hash_code(keys: Keys, *, scope: str, code: str) -> str:
    """Keyed hash of a short code, bound to what it proves (`scope`)."""
    return hmac.new(keys.codes, f"{scope}\x00{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(keys: Keys, *, scope: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(keys, scope=scope, code=code), stored_hash)


# --- opaque tokens ---------------------------------------------------------


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(keys: Keys, token: str) -> str:
    return hmac.new(keys.tokens, token.encode(), hashlib.sha256).hexdigest()


def new_session_id() -> str:
    """A UUIDv7: time-ordered, so a new session is written at the end of the id index
    rather than into a random page of it (every sign-in writes one)."""
    return str(uuid_utils.uuid7())


# A refresh token is `<row id>.<secret>` (as Laravel Sanctum's tokens are): found by its
# primary key, then its secret compared in constant time with the stored keyed hash, so
# the table needs no index over random hashes, which every sign-in and refresh would write.
_MAX_TOKEN_ID = 2**31 - 1  # the id column is a 32-bit INTEGER on PostgreSQL


def refresh_token_text(token_id: int, secret: str) -> str:
    return f"{token_id}.{secret}"


def parse_refresh_token(token: str) -> tuple[int, str] | None:
    """(row id, secret) of a refresh token; None when it cannot be one."""
    head, dot, secret = token.partition(".")
    if not dot or not secret or not head.isascii() or not head.isdigit() or len(head) > 10:
        return None
    token_id = int(head)
    return (token_id, secret) if token_id <= _MAX_TOKEN_ID else None


# --- JWT -------------------------------------------------------------------


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    jti: str


class InvalidAccessToken(Exception):
    """The access token is malformed, forged, expired or of another kind."""


class _CheckedKeyHMAC(HMACAlgorithm):
    """PyJWT's HS256, its key checks (not a PEM, SSH, DER or JWK key) run once per key.

    PyJWT checks the key on every signature (~25 µs a sign-in under load, against ~5 µs
    for the HMAC itself); washgate signs with a few keys of its own (Keys.derive).
    """

    def __init__(self) -> None:
        super().__init__(HMACAlgorithm.SHA256)
        self._checked = lru_cache(maxsize=8)(super().prepare_key)

    def prepare_key(self, key: str | bytes) -> bytes:
        return self._checked(key)


_SIGNER = PyJWS(algorithms=[])
_SIGNER.register_algorithm(JWT_ALGORITHM, _CheckedKeyHMAC())


def encode_access_token(keys: Keys, *, user_id: int, session_id: str, now: datetime, ttl: int) -> str:
    payload = {
        "sub": str(user_id),
        "sid": session_id,
        "jti": secrets.token_hex(8),
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
    }
    # what jwt.encode does for a payload of plain values, with the signer above
    return _SIGNER.encode(orjson.dumps(payload), keys.jwt, algorithm=JWT_ALGORITHM)


def decode_access_token(keys: Keys, token: str, *, now: float | None = None) -> AccessClaims:
    """The claims of a valid, unexpired access token signed with `keys`; InvalidAccessToken otherwise.

    A token's signature and claims are checked once (PyJWT, ~40 µs) and the result kept
    (bounded LRU, like any JWT verifier cache); each use still checks its expiry.
    Revocation is the caller's: the session it names is read on every request.
    """
    if len(token) > 2048:
        raise InvalidAccessToken
    claims, expires_at = _verified_access_token(keys.jwt, token)
    if expires_at <= (time.time() if now is None else now):
        raise InvalidAccessToken
    return claims


@lru_cache(maxsize=4096)
def _verified_access_token(key: bytes, token: str) -> tuple[AccessClaims, float]:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "jti", "sid"]},
        )
        if payload.get("typ") != "access":
            raise InvalidAccessToken
        claims = AccessClaims(user_id=int(payload["sub"]), session_id=str(payload["sid"]), jti=payload["jti"])
        return claims, float(payload["exp"])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidAccessToken from exc


# --- passwords -------------------------------------------------------------


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_password_hasher.hash, password)


async def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the parameters changed). Always spends the same work."""

    def check() -> tuple[bool, str | None]:
        target = stored_hash or DUMMY_PASSWORD_HASH
        try:
            _password_hasher.verify(target, password)
        except (VerificationError, InvalidHashError):
            return False, None
        if stored_hash is None:
            return False, None
        if _password_hasher.check_needs_rehash(target):
            return True, _password_hasher.hash(password)
        return True, None

    return await asyncio.to_thread(check)
