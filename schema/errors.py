"""The `Error` interface, its four types, and the one place domain exceptions become them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from core.i18n import translate
from resolvers import errors as domain

ErrorCode = strawberry.enum(domain.ErrorCode, name="ErrorCode")


@strawberry.interface(description="Every expected failure: ask `... on Error { code message }`.")
class Error:
    code: ErrorCode
    message: str


@strawberry.type(description="Input is missing, malformed or out of range; `field` names it.")
class ValidationError(Error):
    field: str | None


@strawberry.type(description="A limit refused the request; try again at `retryAt`.")
class RateLimitedError(Error):
    retry_at: datetime


@strawberry.type(description="A wrong, used or expired code; `attemptsLeft` is what this code still allows.")
class InvalidCodeError(Error):
    attempts_left: int


@strawberry.type(description="Any other expected failure.")
class OperationError(Error):
    pass


ERROR_TYPES = (ValidationError, RateLimitedError, InvalidCodeError, OperationError)


def _message(exc: domain.DomainError, info: Info) -> str:
    return translate(exc.message, info.context.locale, **exc.params)


class InvalidCodeHandler(strawberry.ExceptionHandler[domain.InvalidCode, InvalidCodeError]):
    def handle(self, exception: domain.InvalidCode, *, field: Any, info: Info) -> InvalidCodeError:
        return InvalidCodeError(
            code=exception.code, message=_message(exception, info), attempts_left=exception.attempts_left
        )


class RateLimitedHandler(strawberry.ExceptionHandler[domain.RateLimited, RateLimitedError]):
    def handle(self, exception: domain.RateLimited, *, field: Any, info: Info) -> RateLimitedError:
        return RateLimitedError(code=exception.code, message=_message(exception, info), retry_at=exception.retry_at)


class ValidationHandler(strawberry.ExceptionHandler[domain.ValidationFailed, ValidationError]):
    def handle(self, exception: domain.ValidationFailed, *, field: Any, info: Info) -> ValidationError:
        return ValidationError(code=exception.code, message=_message(exception, info), field=exception.field)


class OperationHandler(strawberry.ExceptionHandler[domain.DomainError, OperationError]):
    def handle(self, exception: domain.DomainError, *, field: Any, info: Info) -> OperationError:
        return OperationError(code=exception.code, message=_message(exception, info))


EXCEPTION_HANDLERS = (InvalidCodeHandler(), RateLimitedHandler(), ValidationHandler(), OperationHandler())


def graphql_error(exc: domain.DomainError, locale: str) -> GraphQLError:
    """A domain failure in a query, as a GraphQL error with `extensions.code`."""
    return GraphQLError(translate(exc.message, locale, **exc.params), extensions={"code": exc.code.name})
