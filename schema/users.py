"""User, Phone and Card types, and the `me` query."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from core.phones import mask_phone
from resolvers import users
from resolvers.users import CardRow, PhoneRow, UserRow

if TYPE_CHECKING:
    from schema.carwash import CarwashOrder, CarwashOrderConnection


UNKNOWN = object()


@strawberry.type(description="A phone number the account has proven.")
class Phone:
    id: strawberry.ID
    number: str = strawberry.field(description="E.164, e.g. +79161234567")
    masked: str
    verified_at: datetime | None
    bound_at: datetime | None

    @classmethod
    def from_model(cls, row: PhoneRow) -> Phone:
        return cls(
            id=strawberry.ID(str(row.id)),
            number=row.number,
            masked=mask_phone(row.number),
            verified_at=row.verified_at,
            bound_at=row.bound_at,
        )


@strawberry.type(description="The account's loyalty card, numbered by its phone.")
class Card:
    id: strawberry.ID
    number: str
    balance: int

    @classmethod
    def from_model(cls, row: CardRow) -> Card:
        return cls(id=strawberry.ID(str(row.id)), number=row.number, balance=row.balance)


@strawberry.type(description="An account.")
class User:
    id: strawberry.ID
    name: str | None
    email: str | None
    row: strawberry.Private[UserRow]
    # The current Phone row when the caller already read it (None: none), else UNKNOWN.
    phone_row: strawberry.Private[object] = UNKNOWN

    @classmethod
    def from_model(cls, row: UserRow, *, phone: object = UNKNOWN) -> User:
        return cls(id=strawberry.ID(str(row.id)), name=row.name, email=row.email, row=row, phone_row=phone)

    @strawberry.field(description="The account's verified phone.")
    def phone(self, info: Info) -> Phone | None:
        # synchronous when the caller already read the row (sign-in, `me`): an async
        # resolver costs a coroutine and graphql-core's awaitable handling per field
        if self.phone_row is UNKNOWN:
            return self._read_phone(info)  # type: ignore[return-value]  # graphql-core awaits it
        return None if self.phone_row is None else Phone.from_model(self.phone_row)  # type: ignore[arg-type]

    async def _read_phone(self, info: Info) -> Phone | None:
        async with info.context.db.session() as session:
            row = await users.current_phone(session, user=self.row)
        return None if row is None else Phone.from_model(row)

    @strawberry.field(description="Every phone the account has proven, oldest first.")
    async def phones(self, info: Info) -> list[Phone]:
        async with info.context.db.session() as session:
            rows = await users.phones_of(session, user_id=self.row.id or 0)
        return [Phone.from_model(row) for row in rows]

    @strawberry.field
    async def cards(self, info: Info) -> list[Card]:
        async with info.context.db.session(read_only=True) as session:
            rows = await users.cards_of(session, user_id=self.row.id or 0)
        return [Card.from_model(row) for row in rows]

    @strawberry.field(description="The PAID or ACTIVE carwash order, if any.")
    async def active_carwash_order(
        self, info: Info
    ) -> Annotated[CarwashOrder, strawberry.lazy("schema.carwash")] | None:
        from schema.carwash import active_order_of

        return await active_order_of(info, self.row.id or 0)

    @strawberry.field(description="The account's carwash orders, newest first (a Relay connection).")
    async def carwash_orders(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated[CarwashOrderConnection, strawberry.lazy("schema.carwash")]:
        from schema.carwash import orders_of

        return await orders_of(info, self.row.id or 0, 20 if first is None else first, after)


@strawberry.type
class UserQueries:
    @strawberry.field(description="The signed-in user; null when anonymous.")
    async def me(self, info: Info) -> User | None:
        viewer = await info.context.viewer_for_query()
        return User.from_model(viewer.user, phone=viewer.phone) if viewer else None
