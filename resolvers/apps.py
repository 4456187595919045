"""Client apps: one row carries the CallUp app token and the OAuth app_id + app_secret."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlmodel import col, select, update

from core.clock import utcnow
from core.db import DbSession
from core.security import hash_token
from core.services import Services
from models import AuthSession, ClientApp
from resolvers.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class AppCredentials:
    app_id: str
    app_secret: str
    app_token: str


def invalid_app() -> DomainError:
    return DomainError(ErrorCode.INVALID_APP, "Bad app")


async def create_app(
    session: DbSession, *, services: Services, name: str, credentials: AppCredentials | None = None
) -> AppCredentials:
    """Register a client app; its secret and token are shown once and stored hashed."""
    creds = credentials or AppCredentials(
        app_id=secrets.token_hex(12), app_secret=secrets.token_urlsafe(32), app_token=str(uuid.uuid4())
    )
    session.add(
        ClientApp(
            app_id=creds.app_id,
            secret_hash=hash_token(services.keys, creds.app_secret),
            app_token_hash=hash_token(services.keys, creds.app_token),
            name=name,
        )
    )
    await session.commit()
    return creds


async def block_app(session: DbSession, *, app_id: str) -> bool:
    """Block the app at once: its credentials stop working and its sessions end."""
    now = utcnow()
    result = await session.exec(
        update(ClientApp)
        .where(col(ClientApp.app_id) == app_id, col(ClientApp.blocked_at).is_(None))
        .values(blocked_at=now)
    )
    await session.exec(
        update(AuthSession)
        .where(col(AuthSession.app_id) == app_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    await session.commit()
    return bool(result.rowcount)


async def app_by_id(session: DbSession, *, app_id: str) -> ClientApp | None:
    return (await session.exec(select(ClientApp).where(ClientApp.app_id == app_id))).first()


def plausible_app_id(app_id: object) -> bool:
    """Whether `app_id` could be one washgate issued (ASCII letters and digits, at most 64):
    anything else is refused before a query (PostgreSQL refuses NUL in text)."""
    return isinstance(app_id, str) and 0 < len(app_id) <= 64 and app_id.isascii() and app_id.isalnum()


async def authenticate_app(session: DbSession, *, services: Services, app_id: object, app_secret: object) -> ClientApp:
    """The unblocked app with these credentials, else INVALID_APP."""
    if not isinstance(app_secret, str) or not plausible_app_id(app_id) or len(app_secret) > 256:
        raise invalid_app()
    app = (await session.exec(select(ClientApp).where(ClientApp.app_id == app_id))).first()
    expected = app.secret_hash if app else hash_token(services.keys, "")
    if not hmac.compare_digest(hash_token(services.keys, app_secret), expected) or app is None:
        raise invalid_app()
    if app.blocked_at is not None:
        raise invalid_app()
    return app


async def app_by_token(session: DbSession, *, services: Services, app_token: str | None) -> ClientApp | None:
    """The unblocked app whose CallUp token this is, else None."""
    if not app_token or len(app_token) > 64:
        return None
    try:  # a UUID in any spelling (upper case, braces, no hyphens): tokens are issued canonical
        canonical = str(uuid.UUID(app_token))
    except ValueError:
        return None
    app = (
        await session.exec(select(ClientApp).where(ClientApp.app_token_hash == hash_token(services.keys, canonical)))
    ).first()
    if app is None or app.blocked_at is not None:
        return None
    return app
