"""Query limits and caches, built once per schema (rule classes are not rebuilt per request)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule, OverlappingFieldsCanBeMergedRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

log = logging.getLogger("washgate.graphql")


def _ignore_introspection(context: IgnoreContext) -> bool:
    # graphql-core's own introspection-depth rule bounds introspection queries.
    return context.field_name.startswith("__")


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected exceptions; keep GraphQL's own errors and deliberate ones."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    log.error("unexpected error in GraphQL resolver", exc_info=original)
    return True


class SameFieldOverlapRule(OverlappingFieldsCanBeMergedRule):
    """The spec's overlap rule, except that one field name returning different leaf
    types on different members of a union is allowed.

    The contract names `code` both on `Error` (`ErrorCode!`) and on success types
    (`Verification.code`, `CarwashOrder.code`: strings), so the natural
    `... on Verification { code } ... on Error { code }` would otherwise be refused.
    Each concrete object has one `code` field, so the answer is never ambiguous.
    """

    def report_error(self, error: GraphQLError) -> None:
        nodes = [node for node in error.nodes or () if isinstance(node, FieldNode)]
        same_field = len(nodes) >= 2 and len({node.name.value for node in nodes}) == 1
        if same_field and " conflict because they return conflicting types " in error.message:
            return
        super().report_error(error)


class RelaxedOverlap(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(
            SameFieldOverlapRule if rule is OverlappingFieldsCanBeMergedRule else rule
            for rule in context.validation_rules
        )
        yield


def schema_extensions(
    *, max_depth: int, max_aliases: int, max_tokens: int, introspection: bool
) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    rules: list[Any] = [depth_rule(max_depth, _ignore_introspection), aliases_rule(max_aliases)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return [
        RelaxedOverlap,
        lambda: MaxTokensLimiter(max_tokens),
        lambda: AddValidationRules(rules),
        lambda: MaskErrors(should_mask_error=_should_mask),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
    ]


class WashgateSchema(strawberry.Schema):
    """Expected failures (validation, a bad token in a query) are answers, not log lines;
    unexpected exceptions are logged once, with their traceback, by `_should_mask`."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None
