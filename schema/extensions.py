"""The schema's machinery: query limits, the validated-document cache (built once per schema:
rule classes are not rebuilt per request), error masking and an executor without a cycle."""

from __future__ import annotations

import logging
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from types import MethodType
from typing import Any

import strawberry
from graphql import (
    BREAK,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    visit,
)
from graphql.type.definition import GraphQLResolveInfoHelpers
from graphql.validation import NoSchemaIntrospectionCustomRule, OverlappingFieldsCanBeMergedRule
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import IgnoreContext
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

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


class PreparedDocuments(SchemaExtension):
    """Parse, limit and validate each query text once per schema.

    A new text is parsed with the token limit and validated with the schema's rules
    (the overlap rule relaxed as above, plus depth, aliases and, when introspection is
    off, NoSchemaIntrospection). A text that passes is kept (LRU, bounded), and the next
    request with the same text goes straight to execution: the schema and its rules do
    not change while the server runs, so neither does the answer. Texts that fail are
    not kept. This replaces Strawberry's ParserCache, ValidationCache, MaxTokensLimiter
    and AddValidationRules, which together cost ~0.1 ms of hooks and document hashing
    on every request.
    """

    def __init__(self, documents: DocumentCache) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        known = self.documents.get(context.query)
        if known is not None:
            context.graphql_document = known
            context.pre_execution_errors = []  # validated when it was kept
        else:
            context.parse_options["max_tokens"] = self.documents.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if _needs_operation_name(context):  # the spec's rule, where Strawberry would run the first operation
            context.pre_execution_errors = [
                GraphQLError("Must provide operation name if query contains multiple operations.")
            ]
        fresh = context.pre_execution_errors is None
        if fresh and context.graphql_document is not None:
            problem = unsafe_to_validate(context.graphql_document, max_fields=self.documents.max_tokens)
            if problem is not None:  # refused before the rules that would choke on it run
                context.pre_execution_errors = [problem]
                fresh = False
        if fresh:
            context.validation_rules = self.documents.rules_for(context.validation_rules)
        yield
        if fresh and not context.pre_execution_errors and context.graphql_document is not None and context.query:
            self.documents.keep(context.query, context.graphql_document)


def _needs_operation_name(context: Any) -> bool:
    """No `operationName` was sent (Strawberry's ExecutionContext keeps what was sent in
    `_provided_operation_name`; should that go, nothing is refused) for several operations."""
    if getattr(context, "_provided_operation_name", "") is not None:
        return False
    document = context.graphql_document
    return document is not None and sum(isinstance(node, OperationDefinitionNode) for node in document.definitions) > 1


MAX_INT_LITERAL_DIGITS = 100  # far beyond any Int or ID; Python refuses to read 4300+


class _Literals(Visitor):
    """Finds an integer literal too long to read (int() raises ValueError past 4300 digits,
    inside graphql-core's value checks, as an unexpected error)."""

    def __init__(self) -> None:
        super().__init__()
        self.too_long: IntValueNode | None = None

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> Any:
        if len(node.value.lstrip("-")) > MAX_INT_LITERAL_DIGITS:
            self.too_long = node
            return BREAK
        return None


def unsafe_to_validate(document: DocumentNode, *, max_fields: int) -> GraphQLError | None:
    """Why `document` must be refused before validation, or None.

    Strawberry's depth and alias limiters walk every fragment spread without remembering
    a fragment they have walked: 21 fragments each spreading the next one twice took 6 s
    of the event loop (each more doubles it), and a spread of an unknown fragment raises
    KeyError in them. So, first, with each fragment counted once: every operation, its
    fragments spread in place, may select at most `max_fields` fields (the token limit:
    what a document could select without fragments), and every spread must name a
    fragment of the document, outside any cycle.
    """
    fragments = {node.name.value: node for node in document.definitions if isinstance(node, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}
    walking: set[str] = set()

    def size(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                total += 1 + size(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += spread(selection)
        return total

    def spread(node: FragmentSpreadNode) -> int:
        name = node.name.value
        if name in sizes:
            return sizes[name]
        if name not in fragments:
            raise GraphQLError(f"Unknown fragment '{name}'.", node)
        if name in walking:
            raise GraphQLError(f"Cannot spread fragment '{name}' within itself.", node)
        walking.add(name)
        sizes[name] = size(fragments[name].selection_set)
        walking.discard(name)
        return sizes[name]

    try:
        for definition in document.definitions:
            if isinstance(definition, (OperationDefinitionNode, FragmentDefinitionNode)):
                selected = size(definition.selection_set)
                if selected > max_fields:
                    raise GraphQLError(
                        f"The document selects {selected} fields once its fragments are spread;"
                        f" the limit is {max_fields}.",
                        definition,
                    )
    except GraphQLError as refused:
        return refused
    except RecursionError:  # fields nested deeper than the interpreter's stack
        return GraphQLError("The document is nested too deeply.")
    literals = _Literals()
    visit(document, literals)
    if literals.too_long is not None:
        return GraphQLError(f"An integer literal has more than {MAX_INT_LITERAL_DIGITS} digits.", literals.too_long)
    return None


MAX_KEPT_QUERY_CHARS = 16_384  # longer texts are checked every time, never kept


class DocumentCache:
    """Validated documents by query text (LRU, texts up to MAX_KEPT_QUERY_CHARS), with the
    limits they were checked against."""

    def __init__(self, *, rules: list[Any], max_tokens: int, maxsize: int = 512) -> None:
        self.max_tokens = max_tokens
        self._rules = tuple(rules)
        self._maxsize = maxsize
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def get(self, query: str | None) -> DocumentNode | None:
        document = self._documents.get(query) if query else None
        if document is not None:
            self._documents.move_to_end(query)  # type: ignore[arg-type]
        return document

    def keep(self, query: str, document: DocumentNode) -> None:
        if len(query) > MAX_KEPT_QUERY_CHARS:  # a 1 MiB literal kept 512 times would be ~1 GiB
            return
        self._documents[query] = document
        if len(self._documents) > self._maxsize:
            self._documents.popitem(last=False)

    def rules_for(self, defaults: tuple[Any, ...]) -> tuple[Any, ...]:
        relaxed = tuple(SameFieldOverlapRule if rule is OverlappingFieldsCanBeMergedRule else rule for rule in defaults)
        return relaxed + self._rules


def _about_the_request(error: GraphQLError) -> bool:
    """Syntax, validation, variables, operation name: no exception but GraphQL's own behind it."""
    original = error.original_error
    return (original is None or isinstance(original, GraphQLError)) and not (error.extensions or {}).get("code")


SUGGESTION = re.compile(r" Did you mean .+\?$")
# graphql-core quotes the value it refused ("String cannot represent a non string value:
# 1234", "... unknown field 'x', found: {...}."): a code, a PIN or a refresh token sent
# with the wrong type would come back in the answer. Only the value is dropped.
QUOTED_VALUE = re.compile(r"(cannot represent [^:]*value): .*$|, found: .*$", re.DOTALL)


def _without_quoted_value(message: str) -> str:
    return QUOTED_VALUE.sub(lambda match: (match.group(1) or "") + ".", message, count=1)


class ErrorMasking(MaskErrors):
    """Strawberry's MaskErrors with washgate's rule (`_should_mask`), reading `errors`
    directly: its runtime Protocol check costs ~8 µs on every result. `masked` is what
    the HTTP view's direct path applies too.

    Every error says what it is in `extensions.code`: a masked one INTERNAL_ERROR, one
    about the request itself (syntax, validation, variables, operation name: no path
    and no exception behind it) VALIDATION_FAILED. With `hide_suggestions` (introspection
    off) those drop graphql-core's "Did you mean ...?", which would name the schema's
    fields and values to someone who may not list them.
    """

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        super().__init__(should_mask_error=_should_mask)
        self.hide_suggestions = hide_suggestions

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_ERROR"}
        return masked

    def masked(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = self._process_errors(errors)
        for error in processed:
            if error.path is None and _about_the_request(error):
                error.extensions = {**(error.extensions or {}), "code": "VALIDATION_FAILED"}
                error.message = _without_quoted_value(error.message)
                if self.hide_suggestions:
                    error.message = SUGGESTION.sub("", error.message)
        return processed

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self.masked(errors)  # type: ignore[attr-defined]


def document_cache(*, max_depth: int, max_aliases: int, max_tokens: int, introspection: bool) -> DocumentCache:
    rules: list[Any] = [depth_rule(max_depth, _ignore_introspection), aliases_rule(max_aliases)]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return DocumentCache(rules=rules, max_tokens=max_tokens)


def schema_extensions(
    documents: DocumentCache, *, hide_suggestions: bool
) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    return [lambda: PreparedDocuments(documents), lambda: ErrorMasking(hide_suggestions=hide_suggestions)]


class AcyclicExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, without graphql-core's reference cycle.

    graphql-core's executor keeps two of its own bound methods (`async_helpers`), so
    each request's executor, with the context, request and results it reaches, was
    left for the cyclic garbage collector (~80 objects a GraphQL request; the pass
    every ~300 requests took 10-20 ms, and the full ones ~90 ms). Bound through a weak
    proxy, they go when the request ends; resolvers use them only during execution.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        executor = weakref.proxy(self)
        self.async_helpers = GraphQLResolveInfoHelpers(
            gather=MethodType(type(self).gather_async_work, executor),
            track=MethodType(type(self).track_async_work, executor),
        )
        self._shared_subfields = SHARED_SUBFIELDS.of(self.operation, self.fragments)

    def collect_subfields(self, return_type: Any, field_details_list: Any) -> Any:
        """graphql-core collects a field's subfields once per request; an operation
        without directives collects the same ones every time, so they are kept with it."""
        shared = self._shared_subfields
        if shared is None or len(shared) >= MAX_SHARED_PER_OPERATION:
            return super().collect_subfields(return_type, field_details_list)
        key = (id(return_type), *[id(details.node) for details in field_details_list])
        collected = shared.get(key)
        if collected is None:
            collected = shared[key] = super().collect_subfields(return_type, field_details_list)
        return collected


class SharedSubfields:
    """Collected subfields per operation (LRU over operations; each entry keeps its
    operation and fragments alive, so the AST nodes whose ids its keys hold stay the
    ones it was built from; the schema's types live as long as the process).

    Only for operations with no directive anywhere in their selections or fragments:
    @skip/@include read the request's variables and @defer changes what is collected.
    """

    def __init__(self, maxsize: int = 512) -> None:
        self._maxsize = maxsize
        self._entries: OrderedDict[int, tuple[Any, Any, dict[tuple[int, ...], Any] | None]] = OrderedDict()

    def of(self, operation: Any, fragments: dict[str, Any]) -> dict[tuple[int, ...], Any] | None:
        entry = self._entries.get(id(operation))
        if entry is not None and entry[0] is operation:
            self._entries.move_to_end(id(operation))
            return entry[2]
        loc = operation.loc
        if loc is None or len(loc.source.body) > MAX_KEPT_QUERY_CHARS:  # as DocumentCache: big texts are not kept
            return None
        shared = {} if _without_directives(operation, fragments) else None
        self._entries[id(operation)] = (operation, tuple(fragments.values()), shared)
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
        return shared


def _without_directives(operation: Any, fragments: dict[str, Any]) -> bool:
    selection_sets = [operation.selection_set]
    selection_sets += [details.definition.selection_set for details in fragments.values()]
    while selection_sets:
        selection_set = selection_sets.pop()
        for selection in selection_set.selections if selection_set else ():
            if selection.directives:
                return False
            child = getattr(selection, "selection_set", None)
            if child is not None:
                selection_sets.append(child)
    return True


SHARED_SUBFIELDS = SharedSubfields()
MAX_SHARED_PER_OPERATION = 256  # field groups kept per operation (one per field with subfields and type)


class WashgateSchema(strawberry.Schema):
    """Expected failures (validation, a bad token in a query) are answers, not log lines;
    unexpected exceptions are logged once, with their traceback, by `_should_mask`.

    `documents` holds the texts this schema has parsed, limited and validated
    (see PreparedDocuments); the HTTP view runs those directly (washgate/graphql_app.py).
    """

    documents: DocumentCache
    masking: ErrorMasking  # also used by the HTTP view's direct path

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """One result for one request. A subscription needs a WebSocket or a streaming
        HTTP answer (`subscribe`, `stream`); Strawberry's view would otherwise run one sent
        by a plain POST as a query, and its generator would be an unexpected error."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {OperationType.SUBSCRIPTION}
        result = await super().execute(
            query, variable_values, context_value, root_value, operation_name, allowed, operation_extensions
        )
        # A failure outside the resolvers ends the operation before MaskErrors sees the
        # result, and Strawberry answers with the exception's own message: mask it here.
        if result.errors:
            result.errors = self.masking.masked(result.errors)
        return result

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        return None
