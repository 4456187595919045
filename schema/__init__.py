"""The GraphQL schema: each domain module's queries and mutations, merged."""

from __future__ import annotations

from strawberry.tools import merge_types

from schema.auth import AuthMutations
from schema.callup import CallupMutations, CallupQueries
from schema.carwash import CarwashMutations, CarwashQueries, CarwashSubscription
from schema.errors import ERROR_TYPES, EXCEPTION_HANDLERS
from schema.extensions import (
    AcyclicExecutionContext,
    ErrorMasking,
    WashgateSchema,
    document_cache,
    schema_extensions,
)
from schema.oauth import OAuthMutations
from schema.phone_binding import PhoneBindingMutations
from schema.users import UserQueries

Query = merge_types("Query", (UserQueries, CallupQueries, CarwashQueries))
Mutation = merge_types(
    "Mutation", (AuthMutations, PhoneBindingMutations, CallupMutations, OAuthMutations, CarwashMutations)
)
SUBSCRIPTION: type | None = merge_types("Subscription", (CarwashSubscription,))


def build_schema(*, max_depth: int, max_aliases: int, max_tokens: int, introspection: bool) -> WashgateSchema:
    documents = document_cache(
        max_depth=max_depth, max_aliases=max_aliases, max_tokens=max_tokens, introspection=introspection
    )
    schema = WashgateSchema(
        query=Query,
        mutation=Mutation,
        subscription=SUBSCRIPTION,
        types=ERROR_TYPES,
        extensions=schema_extensions(documents, hide_suggestions=not introspection),
        exception_handlers=EXCEPTION_HANDLERS,
        execution_context_class=AcyclicExecutionContext,
    )
    schema.documents = documents
    schema.masking = ErrorMasking(hide_suggestions=not introspection)
    return schema
