"""Sign-in sessions: access JWTs naming a session, rotating single-use refresh tokens."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy import select as core_select
from sqlmodel import col, select, update

from core.clock import utcnow
from core.db import DbSession, run
from core.rows import View, split
from core.security import (
    InvalidAccessToken,
    decode_access_token,
    encode_access_token,
    hash_token,
    new_opaque_token,
    new_session_id,
    parse_refresh_token,
    refresh_token_text,
)
from core.services import Services
from models import AuthSession, RefreshToken, User
from resolvers.errors import DomainError, ErrorCode, unauthenticated
from resolvers.users import CURRENT_PHONE_JOIN, PHONE_VIEW, USER_VIEW, PhoneRow, UserRow, phones_table, users_table


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Viewer:
    """The user behind a valid access token, and the session it names: read-only rows
    (core.rows), read in one statement; load an entity to change one."""

    user: UserRow
    session: Any  # a SESSION_VIEW row
    phone: PhoneRow | None = None  # the account's current phone, read with the session


def invalid_refresh_token() -> DomainError:
    return DomainError(ErrorCode.INVALID_REFRESH_TOKEN, "The refresh token is incorrect")


def issue_access_token(services: Services, *, user_id: int, session_id: str) -> str:
    return encode_access_token(
        services.keys,
        user_id=user_id,
        session_id=session_id,
        now=utcnow(),
        ttl=services.settings.access_token_ttl_seconds,
    )


# Built once: these run on every sign-in, refresh and authenticated request.
refresh_tokens_table: Table = RefreshToken.__table__  # type: ignore[attr-defined]
_INSERT_REFRESH_TOKEN = insert(refresh_tokens_table).returning(refresh_tokens_table.c.id)
_INSERT_SESSION = insert(AuthSession.__table__)  # type: ignore[arg-type]
sessions_table: Table = AuthSession.__table__  # type: ignore[attr-defined]
SESSION_VIEW = View(sessions_table, "s_")
_VIEWER = (
    core_select(*SESSION_VIEW.columns, *USER_VIEW.columns, *PHONE_VIEW.columns)
    .select_from(sessions_table)
    .join(users_table, users_table.c.id == sessions_table.c.user_id)
    .outerjoin(phones_table, CURRENT_PHONE_JOIN)
    .where(sessions_table.c.id == bindparam("session_id"))
    .order_by(phones_table.c.id.desc())
    .limit(1)
)


async def new_refresh_token(session: DbSession, *, services: Services, session_id: str) -> str:
    """Store a fresh refresh token of the session and return its text (caller commits)."""
    secret = new_opaque_token()
    now = utcnow()
    values = {
        "session_id": session_id,
        "token_hash": hash_token(services.keys, secret),
        "created_at": now,
        "expires_at": now + timedelta(seconds=services.settings.refresh_token_ttl_seconds),
    }
    token_id = (await run(session, _INSERT_REFRESH_TOKEN, values)).scalar_one()
    return refresh_token_text(token_id, secret)


def _presented_token(services: Services, refresh_token: str) -> tuple[int, str] | None:
    """(row id, keyed hash of the secret) of a well-formed refresh token."""
    if not refresh_token or len(refresh_token) > 512:
        return None
    parsed = parse_refresh_token(refresh_token)
    if parsed is None:
        return None
    token_id, secret = parsed
    return token_id, hash_token(services.keys, secret)


async def start_session(
    session: DbSession,
    *,
    services: Services,
    user_id: int,
    app_id: str | None = None,
    activation_pending: bool = False,
) -> tuple[TokenPair, str]:
    """Open a session for `user_id` and mint its first token pair (caller commits);
    returns the pair and the session's id.

    Plain INSERTs (no unit-of-work flush): this runs on every sign-in.
    """
    session_id = new_session_id()
    values = {
        "id": session_id,
        "user_id": user_id,
        "app_id": app_id,
        "activation_pending": activation_pending,
        "created_at": utcnow(),
    }
    await run(session, _INSERT_SESSION, values)
    refresh = await new_refresh_token(session, services=services, session_id=session_id)
    access = issue_access_token(services, user_id=user_id, session_id=session_id)
    return TokenPair(access, refresh, services.settings.access_token_ttl_seconds), session_id


async def rotate_tokens(
    session: DbSession,
    *,
    services: Services,
    refresh_token: str,
    app_id: str | None,
    via_app_endpoint: bool = False,
) -> tuple[TokenPair, User]:
    """Use up `refresh_token` and return a fresh pair. Commits.

    `app_id` is the already authenticated client app (None when none was sent). A
    token issued for an app refreshes only for that app; one issued without an app
    refreshes only without one and never through the app endpoint (`via_app_endpoint`).
    A used token presented again revokes its session (the whole family).
    """
    now = utcnow()
    presented = _presented_token(services, refresh_token)
    if presented is None:
        raise invalid_refresh_token()
    token_id, token_hash = presented
    found = (
        await session.exec(
            select(RefreshToken, AuthSession)
            .join(AuthSession, col(AuthSession.id) == col(RefreshToken.session_id))
            .where(RefreshToken.id == token_id)
        )
    ).first()
    # a wrong secret is no token at all: it must not revoke the family of the id it names
    if found is None or not hmac.compare_digest(found[0].token_hash, token_hash):
        raise invalid_refresh_token()
    row, auth_session = found
    if auth_session.revoked_at is not None or auth_session.activation_pending:
        raise invalid_refresh_token()
    if auth_session.app_id != app_id or (via_app_endpoint and auth_session.app_id is None):
        raise invalid_refresh_token()
    if auth_session.user_id is None:  # the account was deleted: say so every time, use nothing up
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "Account not found")
    used = (
        await session.exec(
            update(RefreshToken)
            .where(
                col(RefreshToken.id) == row.id,
                col(RefreshToken.used_at).is_(None),
                col(RefreshToken.expires_at) > now,
            )
            .values(used_at=now)
            .returning(RefreshToken.id)
        )
    ).first()
    if used is None:
        if row.used_at is not None or (await _was_used(session, row.id)):
            await revoke_session(session, session_id=auth_session.id)
            await session.commit()
        raise invalid_refresh_token()
    user = await session.get(User, auth_session.user_id)
    if user is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, "Account not found")
    new_refresh = await new_refresh_token(session, services=services, session_id=auth_session.id)
    access = issue_access_token(services, user_id=user.id or 0, session_id=auth_session.id)
    await session.commit()
    return TokenPair(access, new_refresh, services.settings.access_token_ttl_seconds), user


async def _was_used(session: DbSession, token_id: int | None) -> bool:
    used_at = (await session.exec(select(RefreshToken.used_at).where(RefreshToken.id == token_id))).first()
    return used_at is not None


async def revoke_session(session: DbSession, *, session_id: str) -> bool:
    result = await session.exec(
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)


async def logout(session: DbSession, *, services: Services, viewer: Viewer, refresh_token: str | None) -> bool:
    """End the viewer's session, or the session `refresh_token` belongs to if it is the viewer's."""
    session_id = viewer.session.id
    if refresh_token:
        presented = _presented_token(services, refresh_token)
        owner = None
        if presented is not None:
            owner = (
                await session.exec(
                    select(AuthSession.id, AuthSession.user_id, RefreshToken.token_hash)
                    .join(RefreshToken, col(RefreshToken.session_id) == col(AuthSession.id))
                    .where(RefreshToken.id == presented[0])
                )
            ).first()
        if owner is None or not hmac.compare_digest(owner[2], presented[1]) or owner[1] != viewer.user.id:
            raise invalid_refresh_token()
        session_id = owner[0]
    revoked = await revoke_session(session, session_id=session_id)
    await session.commit()
    return revoked


async def authenticate(session: DbSession, *, services: Services, token: str, allow_pending: bool = False) -> Viewer:
    """The viewer behind an access token; UNAUTHENTICATED when it is bad, expired,
    logged out, awaiting activation (unless `allow_pending`) or its account is gone."""
    try:
        claims = decode_access_token(services.keys, token)
    except InvalidAccessToken:
        raise unauthenticated("The token is invalid or expired") from None
    found = (await run(session, _VIEWER, {"session_id": claims.session_id})).first()
    if found is None:
        raise unauthenticated("The token is invalid or expired")
    auth_session, user, phone = split(found, SESSION_VIEW, USER_VIEW, PHONE_VIEW)
    if auth_session.revoked_at is not None or user.id != claims.user_id:
        raise unauthenticated("The token is invalid or expired")
    if auth_session.activation_pending and not allow_pending:
        raise unauthenticated("The token is not activated")
    return Viewer(user=user, session=auth_session, phone=phone)
