"""App tokens over GraphQL (seed 003): createToken, activateToken, requestPinCall, setPassword."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import Driver as DriverRow
from resolvers import oauth_tokens
from resolvers.errors import ValidationFailed
from schema.auth import TokenPair
from schema.errors import InvalidCodeError, OperationError, RateLimitedError, ValidationError
from schema.users import User

# The resolvers name fields as the legacy API spells them; GraphQL spells them in camelCase.
_GRAPHQL_FIELDS = {"app_id": "appId", "app_secret": "appSecret", "refresh_token": "refreshToken"}


@contextmanager
def _graphql_field_names() -> Iterator[None]:
    try:
        yield
    except ValidationFailed as exc:
        exc.field = _GRAPHQL_FIELDS.get(exc.field or "", exc.field)
        raise


@strawberry.type(description="The driver profile of an account: licence and car.")
class Driver:
    id: strawberry.ID
    license_number: str | None
    license_expires_on: date | None
    car_title: str | None
    car_plate: str | None
    car_color: str | None

    @classmethod
    def from_model(cls, row: DriverRow) -> Driver:
        return cls(
            id=strawberry.ID(str(row.id)),
            license_number=row.license_number,
            license_expires_on=row.license_expires_on,
            car_title=row.car_title,
            car_plate=row.car_plate,
            car_color=row.car_color,
        )


@strawberry.type(
    description="A token for an app. By phone it awaits the PIN sent to the phone (`activationNeeded`), "
    "and `user` and `driver` are null until then."
)
class TokenIssued:
    tokens: TokenPair
    activation_needed: bool
    user: User | None
    driver: Driver | None


@strawberry.type(
    description="The token is active; `tokens` is a freshly rotated pair (the old refresh token is used up)."
)
class TokenActivated:
    user: User
    tokens: TokenPair


@strawberry.type(description="A robot call dictating a fresh PIN is on its way; the previous PIN no longer works.")
class PinCallPlaced:
    phone: str


@strawberry.type(description="The password is set; a change signs out the account's other sessions.")
class PasswordSet:
    user: User


CreateTokenResult = Annotated[
    TokenIssued | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("CreateTokenResult"),
]
ActivateTokenResult = Annotated[
    TokenActivated | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("ActivateTokenResult"),
]
RequestPinCallResult = Annotated[
    PinCallPlaced | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("RequestPinCallResult"),
]
SetPasswordResult = Annotated[
    PasswordSet | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("SetPasswordResult"),
]


@strawberry.input(description="Either `email` + `password`, or `phone`.")
class CreateTokenInput:
    app_id: str
    email: str | None = None
    password: str | None = None
    phone: str | None = None


@strawberry.input
class ActivateTokenInput:
    token: str = strawberry.field(description="The access token of the phone token")
    pin: str


@strawberry.input
class RequestPinCallInput:
    phone: str


@strawberry.input(description="`currentPassword` is needed only when the account already has a password.")
class SetPasswordInput:
    new_password: str
    current_password: str | None = None


@strawberry.type
class OAuthMutations:
    @strawberry.mutation(description="Get a token for an app by e-mail + password, or by phone (a PIN is sent by SMS).")
    async def create_token(self, info: Info, input: CreateTokenInput) -> CreateTokenResult:
        ctx = info.context
        with _graphql_field_names():
            async with ctx.db.session() as session:
                issued = await oauth_tokens.create_token(
                    session=session,
                    services=ctx.services,
                    app_id=input.app_id,
                    email=input.email,
                    password=input.password,
                    phone=input.phone,
                    locale=ctx.locale,
                    client_ip=ctx.client_ip,
                )
        return TokenIssued(
            tokens=TokenPair.from_data(issued.tokens),
            activation_needed=issued.activation_needed,
            user=User.from_model(issued.user) if issued.user else None,
            driver=Driver.from_model(issued.driver) if issued.driver else None,
        )

    @strawberry.mutation(description="Activate a phone token with the PIN sent to the phone.")
    async def activate_token(self, info: Info, input: ActivateTokenInput) -> ActivateTokenResult:
        ctx = info.context
        async with ctx.db.session() as session:
            activated = await oauth_tokens.activate_token(
                session=session, services=ctx.services, token=input.token, pin=input.pin, rotate=True
            )
        assert activated.tokens is not None
        return TokenActivated(user=User.from_model(activated.user), tokens=TokenPair.from_data(activated.tokens))

    @strawberry.mutation(description="Have a robot call dictate a fresh PIN for the phone's token awaiting activation.")
    async def request_pin_call(self, info: Info, input: RequestPinCallInput) -> RequestPinCallResult:
        ctx = info.context
        async with ctx.db.session() as session:
            phone = await oauth_tokens.request_pin_call(
                session=session, services=ctx.services, phone=input.phone, locale=ctx.locale, client_ip=ctx.client_ip
            )
        return PinCallPlaced(phone=phone)

    @strawberry.mutation(description="Set the signed-in user's password, or change it (with the current one).")
    async def set_password(self, info: Info, input: SetPasswordInput) -> SetPasswordResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            user = await oauth_tokens.set_password(
                session=session,
                services=ctx.services,
                viewer=viewer,
                current_password=input.current_password,
                new_password=input.new_password,
            )
        return PasswordSet(user=User.from_model(user))
