"""Service tokens: bearer credentials of server callers (payment provider, carwash network)."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from core.clock import utcnow
from core.db import DbSession
from core.security import hash_token
from core.services import Services
from models import ServiceToken
from resolvers.errors import ValidationFailed, unauthenticated

TOKEN_PREFIX = "wgs_"
MAX_TOKEN_LENGTH = 256


def new_service_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_service_token(
    *, session: DbSession, services: Services, name: str, token: str | None = None
) -> tuple[ServiceToken, str]:
    """Store a new service token (hashed); the token itself is returned once. Commits.

    `token` fixes the secret (the demo derives it from the key); when that token
    already exists, its row is returned instead of a new one.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationFailed("name")
    secret = token or new_service_token()
    token_hash = hash_token(services.keys, secret)
    row = ServiceToken(name=name.strip(), token_hash=token_hash)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        existing = (await session.exec(select(ServiceToken).where(ServiceToken.token_hash == token_hash))).one()
        return existing, secret
    return row, secret


async def revoke_service_token(*, session: DbSession, token_id: int) -> bool:
    """Revoke a token at once; False when there is no such unrevoked token. Commits."""
    result = await session.exec(
        update(ServiceToken)
        .where(col(ServiceToken.id) == token_id, col(ServiceToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    await session.commit()
    return bool(result.rowcount)


async def authenticate_service(*, session: DbSession, services: Services, token: str | None) -> ServiceToken:
    """The unrevoked service token `token` is, else UNAUTHENTICATED (a user's JWT is not one)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise unauthenticated("A valid service token is required")
    row = (
        await session.exec(select(ServiceToken).where(ServiceToken.token_hash == hash_token(services.keys, token)))
    ).first()
    if row is None or row.revoked_at is not None:
        raise unauthenticated("A valid service token is required")
    return row
