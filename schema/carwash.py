"""Carwash orders (seed 000) over GraphQL: the catalogue, ordering, the service
mutations of the payment provider and the carwash network, and live updates."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.relay import PageInfo
from strawberry.types import Info

from core.db import DbSession
from core.net import bearer_token
from models import Carwash as CarwashRow
from models import CarwashOrder as CarwashOrderRow
from models import ServiceToken
from models.carwash import OrderStatus
from resolvers import carwash, service_tokens, sessions
from resolvers.errors import DomainError
from schema.errors import OperationError, RateLimitedError, ValidationError, graphql_error

CarwashOrderStatus = strawberry.enum(
    OrderStatus,
    name="CarwashOrderStatus",
    description="CREATED -> PAID (payment confirmed) -> ACTIVE (wash code issued) -> USED; "
    "CANCELLED when a new order replaced it before payment.",
)


@strawberry.type(description="A carwash of the network.")
class Carwash:
    id: strawberry.ID
    name: str
    address: str | None
    price: int = strawberry.field(description="Price of a wash in whole roubles.")

    @classmethod
    def from_model(cls, row: CarwashRow) -> Carwash:
        return cls(id=strawberry.ID(str(row.id)), name=row.name, address=row.address, price=row.price)


@strawberry.type(description="A wash bought by the user.")
class CarwashOrder:
    id: strawberry.ID
    status: CarwashOrderStatus
    car_title: str
    plate: str | None = strawberry.field(description="As the client sent it; null once the wash code is issued.")
    code: str | None = strawberry.field(description="The wash code; null until the order is ACTIVE.")
    carwash: Carwash
    amount: int = strawberry.field(description="Price paid, in whole roubles.")
    created_at: datetime
    paid_at: datetime | None
    activated_at: datetime | None
    used_at: datetime | None

    @classmethod
    def from_model(cls, row: CarwashOrderRow, carwash_row: CarwashRow) -> CarwashOrder:
        return cls(
            id=strawberry.ID(str(row.id)),
            status=OrderStatus(row.status),
            car_title=row.car_title,
            plate=carwash.visible_plate(row),
            code=carwash.visible_code(row),
            carwash=Carwash.from_model(carwash_row),
            amount=row.amount,
            created_at=row.created_at,
            paid_at=row.paid_at,
            activated_at=row.activated_at,
            used_at=row.used_at,
        )


@strawberry.type
class CarwashOrderEdge:
    cursor: str
    node: CarwashOrder


@strawberry.type(description="The user's carwash orders, newest first.")
class CarwashOrderConnection:
    edges: list[CarwashOrderEdge]
    page_info: PageInfo


@strawberry.type(description="The order is created: pay for it with `payToken`.")
class CarwashOrderCreated:
    order: CarwashOrder
    pay_token: str


CreateCarwashOrderResult = Annotated[
    CarwashOrderCreated | ValidationError | RateLimitedError | OperationError,
    strawberry.union("CreateCarwashOrderResult"),
]
ConfirmCarwashPaymentResult = Annotated[
    CarwashOrder | ValidationError | RateLimitedError | OperationError,
    strawberry.union("ConfirmCarwashPaymentResult"),
]
ActivateCarwashOrderResult = Annotated[
    CarwashOrder | ValidationError | RateLimitedError | OperationError,
    strawberry.union("ActivateCarwashOrderResult"),
]
MarkCarwashOrderUsedResult = Annotated[
    CarwashOrder | ValidationError | RateLimitedError | OperationError,
    strawberry.union("MarkCarwashOrderUsedResult"),
]


@strawberry.input
class CarInput:
    title: str
    plate: str = strawberry.field(description="A Russian registration plate, e.g. х123хх77 (Latin look-alikes too).")


@strawberry.input
class CreateCarwashOrderInput:
    phone_id: strawberry.ID = strawberry.field(description="The id of the user's verified phone (`me.phone.id`).")
    car: CarInput
    carwash_id: strawberry.ID


@strawberry.input
class ConfirmCarwashPaymentInput:
    pay_token: str


@strawberry.input
class ActivateCarwashOrderInput:
    order_id: strawberry.ID
    code: str | None = strawberry.field(default=None, description="The wash code; generated when omitted.")


@strawberry.input
class MarkCarwashOrderUsedInput:
    order_id: strawberry.ID


# --- loading ---------------------------------------------------------------


async def _orders_with_carwashes(session: DbSession, rows: list[CarwashOrderRow]) -> list[CarwashOrder]:
    found = await carwash.carwashes_by_id(session=session, ids=(row.carwash_id for row in rows))
    return [CarwashOrder.from_model(row, found[row.carwash_id]) for row in rows]


async def _order(info: Info, row: CarwashOrderRow) -> CarwashOrder:
    async with info.context.db.session() as session:
        [order] = await _orders_with_carwashes(session, [row])
    return order


async def active_order_of(info: Info, user_id: int) -> CarwashOrder | None:
    """The user's PAID or ACTIVE order (for `User.activeCarwashOrder`)."""
    async with info.context.db.session() as session:
        row = await carwash.active_order(session=session, user_id=user_id)
        if row is None:
            return None
        [order] = await _orders_with_carwashes(session, [row])
    return order


async def orders_of(info: Info, user_id: int, first: int, after: str | None) -> CarwashOrderConnection:
    """The user's orders as a Relay connection (for `User.carwashOrders`)."""
    try:
        async with info.context.db.session() as session:
            page = await carwash.order_history(
                session=session,
                user_id=user_id,
                first=first,
                after=after,
                max_page_size=info.context.services.settings.graphql_max_page_size,
            )
            nodes = await _orders_with_carwashes(session, page.orders)
    except DomainError as exc:
        raise graphql_error(exc, info.context.locale) from None
    edges = [
        CarwashOrderEdge(cursor=carwash.order_cursor(row), node=node)
        for row, node in zip(page.orders, nodes, strict=True)
    ]
    return CarwashOrderConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor,
        ),
    )


async def _service_caller(info: Info) -> ServiceToken:
    """The service token sent as `Authorization: Bearer`; a user token is UNAUTHENTICATED."""
    ctx = info.context
    async with ctx.db.session() as session:
        return await service_tokens.authenticate_service(
            session=session, services=ctx.services, token=bearer_token(ctx.authorization)
        )


# --- root fields -----------------------------------------------------------


@strawberry.type
class CarwashQueries:
    @strawberry.field(description="Every carwash of the network.")
    async def carwashes(self, info: Info) -> list[Carwash]:
        async with info.context.db.session() as session:
            rows = await carwash.carwashes(session=session)
        return [Carwash.from_model(row) for row in rows]

    @strawberry.field(description="One of the viewer's orders; NOT_FOUND for another user's; null when anonymous.")
    async def carwash_order(self, info: Info, id: strawberry.ID) -> CarwashOrder | None:
        viewer = await info.context.viewer_for_query()
        if viewer is None:
            return None
        try:
            async with info.context.db.session() as session:
                row = await carwash.order_of_user(session=session, user_id=viewer.user.id or 0, order_id=str(id))
                [order] = await _orders_with_carwashes(session, [row])
        except DomainError as exc:
            raise graphql_error(exc, info.context.locale) from None
        return order


@strawberry.type
class CarwashMutations:
    @strawberry.mutation(description="Buy a wash code; a previous unpaid order is cancelled (its pay token dies).")
    async def create_carwash_order(self, info: Info, input: CreateCarwashOrderInput) -> CreateCarwashOrderResult:
        ctx = info.context
        viewer = await ctx.require_viewer()
        async with ctx.db.session() as session:
            created = await carwash.create_order(
                session=session,
                services=ctx.services,
                viewer=viewer,
                phone_id=str(input.phone_id),
                car_title=input.car.title,
                plate=input.car.plate,
                carwash_id=str(input.carwash_id),
            )
        return CarwashOrderCreated(order=await _order(info, created.order), pay_token=created.pay_token)

    @strawberry.mutation(description="Payment provider (service token): the order of `payToken` is paid.")
    async def confirm_carwash_payment(
        self, info: Info, input: ConfirmCarwashPaymentInput
    ) -> ConfirmCarwashPaymentResult:
        caller = await _service_caller(info)
        async with info.context.db.session() as session:
            row = await carwash.confirm_payment(
                session=session, services=info.context.services, caller=caller, pay_token=input.pay_token
            )
        return await _order(info, row)

    @strawberry.mutation(description="Carwash network (service token): issue the wash code of a paid order.")
    async def activate_carwash_order(self, info: Info, input: ActivateCarwashOrderInput) -> ActivateCarwashOrderResult:
        caller = await _service_caller(info)
        async with info.context.db.session() as session:
            row = await carwash.activate_order(
                session=session,
                services=info.context.services,
                caller=caller,
                order_id=str(input.order_id),
                code=input.code,
            )
        return await _order(info, row)

    @strawberry.mutation(description="Carwash network (service token): the wash code was used.")
    async def mark_carwash_order_used(self, info: Info, input: MarkCarwashOrderUsedInput) -> MarkCarwashOrderUsedResult:
        caller = await _service_caller(info)
        async with info.context.db.session() as session:
            row = await carwash.mark_used(
                session=session, services=info.context.services, caller=caller, order_id=str(input.order_id)
            )
        return await _order(info, row)


@strawberry.type
class CarwashSubscription:
    @strawberry.subscription(description="Each change of the viewer's carwash orders (token in connectionParams).")
    async def carwash_order_updated(self, info: Info) -> AsyncGenerator[CarwashOrder, None]:
        ctx = info.context
        try:
            viewer = await ctx.require_viewer()
        except DomainError as exc:
            raise graphql_error(exc, ctx.locale) from None
        user_id = viewer.user.id or 0
        token = bearer_token(ctx.authorization) or ""
        async with ctx.services.events.subscribe(carwash.topic(user_id)) as queue:
            while True:
                row = carwash.order_from_event(await queue.get(), user_id=user_id)
                if row is None:
                    continue
                async with ctx.db.session() as session:
                    try:
                        # The session may have ended since the connection opened.
                        await sessions.authenticate(session, services=ctx.services, token=token)
                    except DomainError as exc:
                        raise graphql_error(exc, ctx.locale) from None
                    [order] = await _orders_with_carwashes(session, [row])
                yield order
