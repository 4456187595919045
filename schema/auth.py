"""Phone + code identity over GraphQL: sendOtp, login, register, tokens, changePhone."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import oauth_tokens, otp_auth, sessions
from resolvers.sessions import TokenPair as TokenPairData
from schema.errors import InvalidCodeError, OperationError, RateLimitedError, ValidationError
from schema.users import User


@strawberry.enum
class OtpChannel(Enum):
    SMS = "sms"
    VOICE = "voice"
    FLASH_CALL = "flash_call"


@strawberry.type
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    @classmethod
    def from_data(cls, pair: TokenPairData) -> TokenPair:
        return cls(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@strawberry.type
class OtpSent:
    phone: str
    next_code_available_at: datetime
    code_length: int


@strawberry.type
class AuthSuccess:
    user: User
    tokens: TokenPair


@strawberry.type(description="The code was right but no account has this phone: call `register`.")
class RegistrationRequired:
    phone: str


@strawberry.type
class LoggedOut:
    revoked: bool


@strawberry.type
class AccountPhoneChanged:
    user: User


SendOtpResult = Annotated[
    OtpSent | ValidationError | RateLimitedError | InvalidCodeError | OperationError, strawberry.union("SendOtpResult")
]
LoginResult = Annotated[
    AuthSuccess | RegistrationRequired | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("LoginResult"),
]
RegisterResult = Annotated[
    AuthSuccess | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("RegisterResult"),
]
RefreshTokensResult = Annotated[
    TokenPair | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("RefreshTokensResult"),
]
LogoutResult = Annotated[
    LoggedOut | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("LogoutResult"),
]
ChangePhoneResult = Annotated[
    AccountPhoneChanged | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("ChangePhoneResult"),
]


@strawberry.input
class SendOtpInput:
    phone: str
    channel: OtpChannel = OtpChannel.SMS


@strawberry.input
class LoginInput:
    phone: str
    otp: str


@strawberry.input
class RegisterInput:
    phone: str
    otp: str
    terms_accepted: bool
    promo_terms_accepted: bool = False
    name: str | None = None


@strawberry.input
class RefreshTokensInput:
    refresh_token: str
    app_id: str | None = None
    app_secret: str | None = None


@strawberry.input
class LogoutInput:
    refresh_token: str | None = None


@strawberry.input
class ChangePhoneInput:
    phone: str
    otp: str


@strawberry.type
class AuthMutations:
    @strawberry.mutation(description="Send a sign-in code to a phone.")
    async def send_otp(self, info: Info, input: SendOtpInput) -> SendOtpResult:
        ctx = info.context
        async with ctx.db.session() as session:
            phone, issued = await otp_auth.send_otp(
                session=session,
                services=ctx.services,
                phone=input.phone,
                channel=input.channel.value,
                locale=ctx.locale,
                client_ip=ctx.client_ip,
            )
        return OtpSent(
            phone=phone, next_code_available_at=issued.next_code_available_at, code_length=issued.code_length
        )

    @strawberry.mutation(description="Sign in with a phone and the code sent to it.")
    async def login(self, info: Info, input: LoginInput) -> LoginResult:
        ctx = info.context
        async with ctx.db.session() as session:
            outcome = await otp_auth.login(
                session=session, services=ctx.services, phone=input.phone, otp=input.otp, with_cards=False
            )
        if isinstance(outcome, otp_auth.NeedsRegistration):
            return RegistrationRequired(phone=outcome.phone)
        return AuthSuccess(
            user=User.from_model(outcome.user, phone=outcome.phone), tokens=TokenPair.from_data(outcome.tokens)
        )

    @strawberry.mutation(description="Create the account of a phone proven by its code.")
    async def register(self, info: Info, input: RegisterInput) -> RegisterResult:
        ctx = info.context
        async with ctx.db.session() as session:
            outcome = await otp_auth.register(
                session=session,
                services=ctx.services,
                phone=input.phone,
                otp=input.otp,
                terms_accepted=input.terms_accepted,
                promo_terms_accepted=input.promo_terms_accepted,
                name=input.name,
                with_cards=False,
            )
        return AuthSuccess(
            user=User.from_model(outcome.user, phone=outcome.phone), tokens=TokenPair.from_data(outcome.tokens)
        )

    @strawberry.mutation(description="Trade a refresh token for a new pair (app tokens need the app's credentials).")
    async def refresh_tokens(self, info: Info, input: RefreshTokensInput) -> RefreshTokensResult:
        ctx = info.context
        async with ctx.db.session() as session:
            pair = await oauth_tokens.refresh_tokens(
                session=session,
                services=ctx.services,
                refresh_token=input.refresh_token,
                app_id=input.app_id,
                app_secret=input.app_secret,
            )
        return TokenPair.from_data(pair)

    @strawberry.mutation(description="End this session (or the one `refreshToken` belongs to).")
    async def logout(self, info: Info, input: LogoutInput) -> LogoutResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            revoked = await sessions.logout(
                session, services=ctx.services, viewer=viewer, refresh_token=input.refresh_token
            )
        return LoggedOut(revoked=revoked)

    @strawberry.mutation(description="Make `phone`, proven by a code sent with sendOtp, the account's phone.")
    async def change_phone(self, info: Info, input: ChangePhoneInput) -> ChangePhoneResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            user = await otp_auth.change_phone(
                session=session, services=ctx.services, viewer=viewer, phone=input.phone, otp=input.otp
            )
        return AccountPhoneChanged(user=User.from_model(user))
