"""OAuth-style app tokens (seed 003): e-mail + password, or phone + PIN activation;
app-bound refresh; a robot call dictating a fresh PIN; setting the account's password.

A phone token is a normal session started with `activation_pending`: its access token
is refused everywhere (sessions.authenticate) and its refresh token cannot be used
until the PIN sent to the phone (purpose `token_activation`, subject = the session id)
flips the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select, update

from core.clock import utcnow
from core.db import DbSession
from core.security import (
    hash_password,
    hash_token,
    verify_password,
)
from core.services import Services
from models import AuthSession, ClientApp, Driver, RefreshToken, User
from resolvers import apps, codes, limits, sessions, users
from resolvers.errors import (
    DeliveryFailed,
    DomainError,
    ErrorCode,
    RateLimited,
    ValidationFailed,
    not_found,
    unauthenticated,
)
from resolvers.inputs import valid_code, valid_phone
from resolvers.sessions import TokenPair, Viewer

PURPOSE = "token_activation"
MIN_PASSWORD_LENGTH = 8
# argon2 hashes anything; the cap keeps a megabyte "password" from costing more.
MAX_PASSWORD_LENGTH = 1024
MAX_EMAIL_LENGTH = 320
REQUIRED = "This field is required"


async def _take_password_try(
    session: DbSession, *, services: Services, account: str, client_ip: str | None = None
) -> list[tuple[str, datetime]]:
    """Count a password check against `account`'s hourly cap and, for a sign-in, the
    sender's (`client_ip`) before argon2 runs (one conditional upsert, committed, so
    parallel guesses cannot pass it); RATE_LIMITED once either is spent. The sender's cap
    bounds what one address makes the server hash (~0.1 s of a core each) over accounts
    that do not even exist. A right password gives its tries back
    (`_give_back_password_try`): only wrong ones add up."""
    settings = services.settings
    now = utcnow()
    hour = limits.hour_window(now)
    # keyed by a keyed hash: an e-mail may be longer than a counter key, and is kept out of the table
    windows = [(f"password:{hash_token(services.keys, account)}", hour, settings.password_failures_per_hour)]
    if client_ip is not None:
        windows.append((f"password-ip:{limits.address_key(client_ip)}", hour, settings.password_failures_per_address))
    refused = await limits.take_counters(session, windows=windows)
    await session.commit()  # before argon2: no transaction stays open across it
    if refused:
        raise RateLimited(hour + timedelta(hours=1), message="Too many wrong passwords, try again later")
    return [(key, window_start) for key, window_start, _ in windows]


async def _give_back_password_try(session: DbSession, *, taken: list[tuple[str, datetime]]) -> None:
    for key, window_start in taken:
        await limits.release_counter(session, key=key, window_start=window_start)


@dataclass(frozen=True)
class IssuedToken:
    """A new token; `user` and `driver` only for e-mail + password (a phone token shows
    nothing of the account before its PIN is entered)."""

    tokens: TokenPair
    activation_needed: bool
    user: User | None
    driver: Driver | None


@dataclass(frozen=True)
class ActivatedToken:
    """An activated token's account; `tokens` is the rotated pair when one was asked for."""

    user: User
    tokens: TokenPair | None


def invalid_user() -> DomainError:
    return DomainError(ErrorCode.INVALID_USER, "Bad user")


def invalid_token() -> DomainError:
    return DomainError(ErrorCode.INVALID_TOKEN, "The token is incorrect")


def _string(value: object, field: str) -> str:
    """A non-empty string, else ValidationFailed on `field`."""
    if value is None or value == "":
        raise ValidationFailed(field, REQUIRED)
    if not isinstance(value, str):
        raise ValidationFailed(field)
    return value


def valid_email(value: object) -> str:
    email = _string(value, "email").strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > MAX_EMAIL_LENGTH
        or any(ch.isspace() for ch in email)
        or not email.isprintable()
    ):
        raise ValidationFailed("email", "Email must be valid")
    return email


def _valid_password(value: object, field: str) -> str:
    password = _string(value, field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            field, "The password must be at most {max_length} characters long", max_length=MAX_PASSWORD_LENGTH
        )
    return password


def valid_new_password(value: object, field: str) -> str:
    """A password being set (here or by `washgate users create`): 8 to 1024 characters."""
    password = _valid_password(value, field)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            field, "The password must be at least {min_length} characters long", min_length=MIN_PASSWORD_LENGTH
        )
    return password


async def _client_app(session: DbSession, *, services: Services, app_id: object, app_secret: object) -> ClientApp:
    """The unblocked app named by `app_id` (and proven by `app_secret` when one is sent)."""
    app_id = _string(app_id, "app_id")
    if app_secret is not None:
        return await apps.authenticate_app(session, services=services, app_id=app_id, app_secret=app_secret)
    if not apps.plausible_app_id(app_id):
        raise apps.invalid_app()
    app = await apps.app_by_id(session, app_id=app_id)
    if app is None or app.blocked_at is not None:
        raise apps.invalid_app()
    return app


async def create_token(
    *,
    session: DbSession,
    services: Services,
    app_id: object,
    email: object = None,
    password: object = None,
    phone: object = None,
    app_secret: object = None,
    locale: str,
    client_ip: str | None,
) -> IssuedToken:
    """A token for the app `app_id`: by e-mail + password (active at once) or by phone
    (awaiting the PIN sent to it by SMS; an unknown phone gets an inactive account)."""
    by_password = email is not None or password is not None
    if by_password and phone is not None:
        raise ValidationFailed("phone", "Send either email and password or phone")
    if not by_password and phone is None:
        raise ValidationFailed("email", "Email and password, or phone, are required")
    if by_password:
        address = valid_email(email)
        secret = _valid_password(password, "password")
        app = await _client_app(session, services=services, app_id=app_id, app_secret=app_secret)
        return await _token_by_password(
            session, services=services, app=app, email=address, password=secret, client_ip=client_ip
        )
    number = valid_phone(phone, services.settings)
    app = await _client_app(session, services=services, app_id=app_id, app_secret=app_secret)
    return await _token_by_phone(
        session, services=services, app_id=app.app_id, phone=number, locale=locale, client_ip=client_ip
    )


async def _token_by_password(
    session: DbSession, *, services: Services, app: ClientApp, email: str, password: str, client_ip: str | None
) -> IssuedToken:
    taken = await _take_password_try(session, services=services, account=email, client_ip=client_ip)
    user = (await session.exec(select(User).where(User.email == email))).first()
    stored_hash = user.password_hash if user is not None else None
    # End the transaction before argon2 (~100 ms) so the connection serves others meanwhile.
    await session.commit()
    matches, new_hash = await verify_password(password, stored_hash)
    if user is None or not matches or not user.is_active:
        raise invalid_user()
    await _give_back_password_try(session, taken=taken)
    if new_hash is not None:
        await session.exec(
            update(User)
            .where(col(User.id) == user.id, col(User.password_hash) == stored_hash)
            .values(password_hash=new_hash)
        )
    tokens, _ = await sessions.start_session(session, services=services, user_id=user.id or 0, app_id=app.app_id)
    driver = await users.driver_of(session, user_id=user.id or 0)
    await session.commit()
    return IssuedToken(tokens=tokens, activation_needed=False, user=user, driver=driver)


async def _account_for_phone(session: DbSession, *, phone: str) -> User:
    """The account of `phone`, or a new inactive one (it becomes active on activation)."""
    user = await users.user_by_phone(session, phone=phone)
    if user is not None:
        return user
    try:
        return await users.create_user(session, phone=phone, is_active=False)
    except DomainError as exc:
        if exc.code is not ErrorCode.ACCOUNT_EXISTS:
            raise
    # Created at the same moment by another request: use that one.
    user = await users.user_by_phone(session, phone=phone)
    if user is None:
        raise users.account_exists()
    return user


async def _token_by_phone(
    session: DbSession, *, services: Services, app_id: str, phone: str, locale: str, client_ip: str | None
) -> IssuedToken:
    # `app_id` is a plain string: losing the race to create the account rolls back and
    # expires every object loaded so far (on PostgreSQL they cannot be reloaded lazily).
    user = await _account_for_phone(session, phone=phone)
    now = utcnow()
    # One pending activation per account: a newer phone token replaces the older ones.
    await session.exec(
        update(AuthSession)
        .where(
            col(AuthSession.user_id) == user.id,
            col(AuthSession.activation_pending).is_(True),
            col(AuthSession.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    )
    tokens, session_id = await sessions.start_session(
        session, services=services, user_id=user.id or 0, app_id=app_id, activation_pending=True
    )
    # issue_code commits all of the above with the code, or rolls it all back when a
    # limit refuses the send (no account, session or code is left behind).
    try:
        await codes.issue_code(
            session=session,
            services=services,
            phone=phone,
            purpose=PURPOSE,
            channel="sms",
            locale=locale,
            client_ip=client_ip,
            subject=session_id,
        )
    except DeliveryFailed:
        await sessions.revoke_session(session, session_id=session_id)
        await session.commit()
        raise
    return IssuedToken(tokens=tokens, activation_needed=True, user=None, driver=None)


async def activate_token(
    *, session: DbSession, services: Services, token: object, pin: object, rotate: bool = False
) -> ActivatedToken:
    """Activate the phone token `token` (its access token) with the PIN sent to the phone.

    The session stops awaiting activation and an inactive account becomes active. With
    `rotate` the session's refresh tokens are used up and a fresh pair is returned.
    """
    raw_token = _string(token, "token").strip()
    if pin is None:
        raise ValidationFailed("pin", REQUIRED)
    pin_code = valid_code(pin, services.settings.otp_length, field="pin", message="Pin must be valid")
    try:
        viewer = await sessions.authenticate(session, services=services, token=raw_token, allow_pending=True)
    except DomainError:
        raise invalid_token() from None
    auth_session, user = viewer.session, viewer.user
    if not auth_session.activation_pending or user.phone is None:
        raise invalid_token()
    await codes.check_code(
        session=session,
        services=services,
        phone=user.phone,
        purpose=PURPOSE,
        code=pin_code,
        subject=auth_session.id,
        require_pending=True,
        wrong_code=ErrorCode.INVALID_PIN,
    )
    activated = (
        await session.exec(
            update(AuthSession)
            .where(
                col(AuthSession.id) == auth_session.id,
                col(AuthSession.activation_pending).is_(True),
                col(AuthSession.revoked_at).is_(None),
            )
            .values(activation_pending=False)
            .returning(AuthSession.id)
        )
    ).first()
    if activated is None:
        await session.rollback()
        raise invalid_token()
    if not user.is_active:
        account = await session.get(User, user.id)
        if account is None or account.phone != user.phone:  # deleted, or its number taken over meanwhile
            await session.rollback()
            raise invalid_token()
        user = await users.activate_account(session, user=account)
    tokens = None
    if rotate:
        tokens = await _rotate_pair(session, services=services, user_id=user.id or 0, session_id=auth_session.id)
    await session.commit()
    return ActivatedToken(user=user, tokens=tokens)


async def _rotate_pair(session: DbSession, *, services: Services, user_id: int, session_id: str) -> TokenPair:
    """Use up the session's refresh tokens and mint a new pair (caller commits)."""
    now = utcnow()
    await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.session_id) == session_id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    refresh = await sessions.new_refresh_token(session, services=services, session_id=session_id)
    access = sessions.issue_access_token(services, user_id=user_id, session_id=session_id)
    return TokenPair(access, refresh, services.settings.access_token_ttl_seconds)


async def request_pin_call(
    *, session: DbSession, services: Services, phone: object, locale: str, client_ip: str | None
) -> str:
    """Have a robot call dictate a fresh PIN for the phone's pending token (replacing
    the pending PIN); NOT_FOUND when no token awaits activation for that phone."""
    number = valid_phone(phone, services.settings)
    # A pending session older than an access token's life can no longer be activated.
    oldest = utcnow() - timedelta(seconds=services.settings.access_token_ttl_seconds)
    session_id = (
        await session.exec(
            select(AuthSession.id)
            .join(User, col(User.id) == col(AuthSession.user_id))
            .where(
                User.phone == number,
                col(AuthSession.activation_pending).is_(True),
                col(AuthSession.revoked_at).is_(None),
                col(AuthSession.created_at) > oldest,
            )
            .order_by(col(AuthSession.created_at).desc())
            .limit(1)
        )
    ).first()
    if session_id is None:
        await session.rollback()
        raise not_found()
    await codes.issue_code(
        session=session,
        services=services,
        phone=number,
        purpose=PURPOSE,
        channel="voice",
        locale=locale,
        client_ip=client_ip,
        subject=session_id,
    )
    return number


async def refresh_app_tokens(
    *, session: DbSession, services: Services, app_id: object, app_secret: object, refresh_token: object
) -> TokenPair:
    """Rotate a refresh token issued for an app, proven by the app's id and secret."""
    app_id = _string(app_id, "app_id")
    app_secret = _string(app_secret, "app_secret")
    token = _string(refresh_token, "refresh_token")
    app = await apps.authenticate_app(session, services=services, app_id=app_id, app_secret=app_secret)
    pair, _ = await sessions.rotate_tokens(
        session, services=services, refresh_token=token, app_id=app.app_id, via_app_endpoint=True
    )
    return pair


async def refresh_tokens(
    *, session: DbSession, services: Services, refresh_token: str, app_id: object = None, app_secret: object = None
) -> TokenPair:
    """Rotate a refresh token (GraphQL): a token issued for an app needs that app's id and secret."""
    bound_to = None
    if app_id is not None or app_secret is not None:
        app = await apps.authenticate_app(session, services=services, app_id=app_id, app_secret=app_secret)
        bound_to = app.app_id
    pair, _ = await sessions.rotate_tokens(session, services=services, refresh_token=refresh_token, app_id=bound_to)
    return pair


async def set_password(
    *, session: DbSession, services: Services, viewer: Viewer, current_password: object, new_password: object
) -> User:
    """Set (no password yet) or change (the current one must be given) the viewer's password.

    A change ends the account's other sessions; the viewer's own stays.
    """
    new = valid_new_password(new_password, "newPassword")
    user = await session.get(User, viewer.user.id)
    if user is None:
        raise unauthenticated()
    old_hash = user.password_hash
    await session.commit()
    if old_hash is not None:
        if current_password is None or current_password == "":
            raise ValidationFailed("currentPassword", "The current password is required")
        current = _valid_password(current_password, "currentPassword")
        taken = await _take_password_try(session, services=services, account=f"user:{user.id}")
        matches, _ = await verify_password(current, old_hash)
        if not matches:
            raise ValidationFailed("currentPassword", "The current password is incorrect")
        await _give_back_password_try(session, taken=taken)
    new_hash = await hash_password(new)
    now = utcnow()
    unchanged = col(User.password_hash).is_(None) if old_hash is None else col(User.password_hash) == old_hash
    updated = (
        await session.exec(
            update(User)
            .where(col(User.id) == user.id, unchanged)
            .values(password_hash=new_hash, updated_at=now)
            .returning(User.id)
        )
    ).first()
    if updated is None:
        await session.rollback()
        raise ValidationFailed("currentPassword", "The current password is incorrect")
    if old_hash is not None:
        await session.exec(
            update(AuthSession)
            .where(
                col(AuthSession.user_id) == user.id,
                col(AuthSession.id) != viewer.session.id,
                col(AuthSession.revoked_at).is_(None),
            )
            .values(revoked_at=now)
        )
    await session.commit()
    session.expunge(user)
    user.password_hash = new_hash
    user.updated_at = now
    return user
