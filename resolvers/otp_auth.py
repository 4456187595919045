"""Register and sign in by phone + one-time code (seed 004), and change the account's phone."""

from __future__ import annotations

from dataclasses import dataclass

from core.db import DbSession
from core.services import Services
from models import User
from resolvers import codes, users
from resolvers.codes import IssuedCode
from resolvers.errors import ValidationFailed, unauthenticated
from resolvers.inputs import valid_code, valid_phone
from resolvers.sessions import TokenPair, Viewer, start_session
from resolvers.users import CardRow, PhoneRow, UserRow

PURPOSE = "auth"
CHANNELS = ("sms", "voice", "flash_call")


@dataclass(frozen=True)
class SignedIn:
    """A signed-in account with its tokens, phone and, when asked for, its cards (read in
    the same transaction)."""

    user: UserRow
    tokens: TokenPair
    phone: PhoneRow | None
    cards: list[CardRow]


async def _signed_in(
    session: DbSession, *, services: Services, user: UserRow, phone: PhoneRow | None, with_cards: bool
) -> SignedIn:
    """Open a session for `user` (whose current Phone row is `phone`) and commit,
    returning what the APIs show of it."""
    tokens, _ = await start_session(session, services=services, user_id=user.id or 0)
    cards = await users.cards_of(session, user_id=user.id or 0) if with_cards else []
    await session.commit()
    return SignedIn(user=user, tokens=tokens, phone=phone, cards=cards)


@dataclass(frozen=True)
class NeedsRegistration:
    phone: str


async def send_otp(
    *,
    session: DbSession,
    services: Services,
    phone: object,
    channel: str = "sms",
    locale: str,
    client_ip: str | None,
) -> tuple[str, IssuedCode]:
    """Send a sign-in code to `phone`; returns its E.164 form and the issued code."""
    number = valid_phone(phone, services.settings)
    if channel not in CHANNELS:
        raise ValidationFailed("channel")
    issued = await codes.issue_code(
        session=session,
        services=services,
        phone=number,
        purpose=PURPOSE,
        channel=channel,
        locale=locale,
        client_ip=client_ip,
    )
    return number, issued


def _check_inputs(services: Services, phone: object, otp: object) -> tuple[str, str]:
    number = valid_phone(phone, services.settings)
    code = valid_code(otp, services.settings.otp_length)
    return number, code


async def login(
    *, session: DbSession, services: Services, phone: object, otp: object, with_cards: bool = True
) -> SignedIn | NeedsRegistration:
    """Sign in with a right code; with no (active) account, ask to register and leave the code usable.
    `with_cards=False` when the caller does not show the cards (GraphQL reads them on demand)."""
    number, code = _check_inputs(services, phone, otp)
    # checked first (holding the phone's lock row on PostgreSQL), so the account read below
    # is the one the phone belongs to now; the code is used up only by a sign-in
    row = await codes.check_code(
        session=session, services=services, phone=number, purpose=PURPOSE, code=code, consume=False
    )
    account = await users.account_by_phone(session, phone=number)
    if account is None or not account[0].is_active:
        await session.commit()
        return NeedsRegistration(phone=number)
    await codes.consume_code(session, row=row)
    user, phone_row = account
    return await _signed_in(session, services=services, user=user, phone=phone_row, with_cards=with_cards)


async def register(
    *,
    session: DbSession,
    services: Services,
    phone: object,
    otp: object,
    terms_accepted: object,
    promo_terms_accepted: object,
    name: object = None,
    with_cards: bool = True,
) -> SignedIn:
    """Create the account of a phone proven by its code (or take over an inactive one)."""
    number, code = _check_inputs(services, phone, otp)
    if not isinstance(terms_accepted, bool):
        raise ValidationFailed("termsAccepted", "isTermsAccepted must be a boolean value")
    if not isinstance(promo_terms_accepted, bool):
        raise ValidationFailed("promoTermsAccepted", "isPromoTermsAccepted must be a boolean value")
    if not terms_accepted:
        raise ValidationFailed("termsAccepted", "Terms must be accepted")
    if name is not None and (
        not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable()
    ):
        raise ValidationFailed("name")
    row = await codes.check_code(
        session=session, services=services, phone=number, purpose=PURPOSE, code=code, consume=False
    )
    existing = await users.user_by_phone(session, phone=number)
    if existing is not None and existing.is_active:
        await session.commit()
        raise users.account_exists()
    await codes.consume_code(session, row=row)
    if existing is not None:
        user = await users.activate_account(
            session, user=existing, name=name, terms_accepted=True, promo_terms_accepted=promo_terms_accepted
        )
    else:
        user = await users.create_user(
            session,
            phone=number,
            name=name.strip() if isinstance(name, str) else None,
            terms_accepted=True,
            promo_terms_accepted=promo_terms_accepted,
        )
    phone = await users.current_phone(session, user=user)
    return await _signed_in(session, services=services, user=user, phone=phone, with_cards=with_cards)


async def change_phone(*, session: DbSession, services: Services, viewer: Viewer, phone: object, otp: object) -> User:
    """Make `phone`, proven by a code sent to it with send_otp, the account's phone."""
    number, code = _check_inputs(services, phone, otp)
    await codes.check_code(session=session, services=services, phone=number, purpose=PURPOSE, code=code, consume=True)
    user = await session.get(User, viewer.user.id)
    if user is None:  # deleted since the token was checked
        await session.rollback()
        raise unauthenticated()
    if user.phone != number:
        other = await users.user_by_phone(session, phone=number)
        if other is not None and other.is_active:
            await session.rollback()
            raise users.account_exists()
        if other is not None:  # created by a phone token (seed 003) whose PIN nobody entered
            await users.release_phone(session, user=other)
    await users.set_verified_phone(session, user=user, phone=number)
    await session.commit()
    return user
