"""The GraphQL schema: each domain module's queries and mutations, merged."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from schema.auth import AuthMutations
from schema.errors import ERROR_TYPES, EXCEPTION_HANDLERS
from schema.extensions import schema_extensions
from schema.users import UserQueries

Query = merge_types("Query", (UserQueries,))
Mutation = merge_types("Mutation", (AuthMutations,))
SUBSCRIPTION: type | None = None


def build_schema(*, max_depth: int, max_aliases: int, max_tokens: int, introspection: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=SUBSCRIPTION,
        types=ERROR_TYPES,
        extensions=schema_extensions(
            max_depth=max_depth, max_aliases=max_aliases, max_tokens=max_tokens, introspection=introspection
        ),
        exception_handlers=EXCEPTION_HANDLERS,
    )
