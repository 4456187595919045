"""Binding the account's phone over GraphQL (seed 002): bindPhone, confirmPhoneBinding, unbindPhone."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from resolvers import phone_binding
from schema.errors import InvalidCodeError, OperationError, RateLimitedError, ValidationError
from schema.users import Phone


@strawberry.type(description="The phone is bound (`confirmationRequired` false) or a code is on its way.")
class PhoneBindingStarted:
    confirmation_required: bool = strawberry.field(
        description="True when a code was sent (or is still valid) and must be confirmed with confirmPhoneBinding."
    )
    next_code_available_at: datetime = strawberry.field(description="When bindPhone may send a new code.")
    already_sent: bool = strawberry.field(
        description="True when a code sent earlier is still valid and nothing new was sent."
    )


@strawberry.type
class PhoneBound:
    phone: Phone


@strawberry.type
class PhoneUnbound:
    phone: Phone


@strawberry.input
class ConfirmPhoneBindingInput:
    code: str


BindPhoneResult = Annotated[
    PhoneBindingStarted | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("BindPhoneResult"),
]
ConfirmPhoneBindingResult = Annotated[
    PhoneBound | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("ConfirmPhoneBindingResult"),
]
UnbindPhoneResult = Annotated[
    PhoneUnbound | ValidationError | RateLimitedError | InvalidCodeError | OperationError,
    strawberry.union("UnbindPhoneResult"),
]


@strawberry.type
class PhoneBindingMutations:
    @strawberry.mutation(
        description="Bind the account's phone: at once when it was verified recently, else an SMS code is sent."
    )
    async def bind_phone(self, info: Info) -> BindPhoneResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            started = await phone_binding.bind_phone(
                session=session, services=ctx.services, viewer=viewer, locale=ctx.locale, client_ip=ctx.client_ip
            )
        return PhoneBindingStarted(
            confirmation_required=started.confirmation_required,
            next_code_available_at=started.next_code_available_at,
            already_sent=started.already_sent,
        )

    @strawberry.mutation(description="Confirm the binding with the code bindPhone sent.")
    async def confirm_phone_binding(self, info: Info, input: ConfirmPhoneBindingInput) -> ConfirmPhoneBindingResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            row = await phone_binding.confirm_binding(
                session=session, services=ctx.services, viewer=viewer, code=input.code
            )
        return PhoneBound(phone=Phone.from_model(row))

    @strawberry.mutation(description="Unbind the account's bound phone.")
    async def unbind_phone(self, info: Info) -> UnbindPhoneResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            row = await phone_binding.unbind_phone(session=session, services=ctx.services, viewer=viewer)
        return PhoneUnbound(phone=Phone.from_model(row))
