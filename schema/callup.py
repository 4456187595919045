"""CallUp flash-call verification for client apps (seed 001) over GraphQL.

The app is known by its `X-Application-Token` header, as in the REST API; orders
are the calling app's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import callup
from resolvers.errors import DomainError, ErrorCode
from schema.errors import InvalidCodeError, OperationError, RateLimitedError, ValidationError, graphql_error

VerificationStatus = strawberry.enum(
    callup.VerificationStatus,
    name="VerificationStatus",
    description="PENDING until the right code arrives (VERIFIED), the code expires or its attempts are spent.",
)


@strawberry.type(description="A flash-call order: the caller number is `callerPrefix` + the code.")
class Verification:
    id: strawberry.ID
    phone: str = strawberry.field(description="E.164, e.g. +79161234567")
    caller_prefix: str
    caller_mask: str = strawberry.field(description="The caller number with the code's digits as `*`.")
    code_length: int
    code: str | None = strawberry.field(
        description="Only in createVerification's answer, when the code was chosen or `revealCode` asked for."
    )
    status: VerificationStatus
    attempts_left: int
    expires_at: datetime
    created_at: datetime
    verified_at: datetime | None

    @classmethod
    def from_data(cls, data: callup.Verification) -> Verification:
        return cls(
            id=strawberry.ID(data.id),
            phone=data.phone,
            caller_prefix=data.caller_prefix,
            caller_mask=data.caller_mask,
            code_length=data.code_length,
            code=data.code,
            status=data.status,
            attempts_left=data.attempts_left,
            expires_at=data.expires_at,
            created_at=data.created_at,
            verified_at=data.verified_at,
        )


@strawberry.type(description="The code was right: the order is now VERIFIED.")
class VerificationChecked:
    success: bool
    verification: Verification


CreateVerificationResult = Annotated[
    Verification | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("CreateVerificationResult"),
]
CheckVerificationResult = Annotated[
    VerificationChecked | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("CheckVerificationResult"),
]


@strawberry.input
class CreateVerificationInput:
    phone: str
    code: str | None = strawberry.field(default=None, description="A code of your own (digits, the configured length).")
    reveal_code: bool = strawberry.field(default=False, description="Return the generated code in the answer.")


@strawberry.input
class CheckVerificationInput:
    id: strawberry.ID
    code: str


@strawberry.type
class CallupQueries:
    @strawberry.field(
        description="The calling app's own order (null for another app's or an unknown id, or no app token)."
    )
    async def verification(self, info: Info, id: strawberry.ID) -> Verification | None:
        ctx = info.context
        if not ctx.app_token:
            return None
        async with ctx.db.session() as session:
            try:
                app = await callup.app_for_token(session, services=ctx.services, app_token=ctx.app_token)
                data = await callup.get_verification(session=session, services=ctx.services, app=app, order_id=id)
            except DomainError as exc:
                if exc.code is ErrorCode.NOT_FOUND:
                    return None
                raise graphql_error(exc, ctx.locale) from None
        return Verification.from_data(data)


@strawberry.type
class CallupMutations:
    @strawberry.mutation(description="Order a flash call to `phone` (app token in `X-Application-Token`).")
    async def create_verification(self, info: Info, input: CreateVerificationInput) -> CreateVerificationResult:
        ctx = info.context
        async with ctx.db.session() as session:
            app = await callup.app_for_token(session, services=ctx.services, app_token=ctx.app_token)
        async with ctx.db.session() as session:
            data = await callup.create_verification(
                session=session,
                services=ctx.services,
                app=app,
                phone=input.phone,
                code=input.code,
                reveal=input.reveal_code,
                locale=ctx.locale,
                client_ip=ctx.client_ip,
            )
        return Verification.from_data(data)

    @strawberry.mutation(description="Check the code of one of the app's orders; a wrong one is an InvalidCodeError.")
    async def check_verification(self, info: Info, input: CheckVerificationInput) -> CheckVerificationResult:
        ctx = info.context
        async with ctx.db.session() as session:
            app = await callup.app_for_token(session, services=ctx.services, app_token=ctx.app_token)
            data = await callup.check_verification(
                session=session, services=ctx.services, app=app, order_id=str(input.id), code=input.code
            )
        return VerificationChecked(success=True, verification=Verification.from_data(data))
