"""The per-request GraphQL context: database, services, language, caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from core.db import Database
from core.services import Services
from resolvers import sessions
from resolvers.errors import DomainError, unauthenticated
from resolvers.sessions import Viewer
from schema.errors import graphql_error

_UNSET: Any = object()


@dataclass
class Context:
    request: HTTPConnection
    response: Any
    db: Database
    services: Services
    locale: str
    client_ip: str
    authorization: str | None
    app_token: str | None
    connection_params: Any = None
    _viewer: Any = field(default=_UNSET)
    extra: dict[str, Any] = field(default_factory=dict)

    async def viewer(self) -> Viewer | None:
        """The signed-in user, None when no token was sent; DomainError when it is bad."""
        if self._viewer is _UNSET:
            from core.net import bearer_token

            token = bearer_token(self.authorization)
            if token is None:
                if self.authorization:
                    raise unauthenticated("The token is invalid or expired")
                self._viewer = None
            else:
                async with self.db.session(read_only=True) as session:
                    self._viewer = await sessions.authenticate(session, services=self.services, token=token)
        return self._viewer  # type: ignore[no-any-return]

    async def require_viewer(self) -> Viewer:
        viewer = await self.viewer()
        if viewer is None:
            raise unauthenticated()
        return viewer

    async def viewer_for_query(self) -> Viewer | None:
        """For queries: a bad token is a GraphQL error with `extensions.code` UNAUTHENTICATED."""
        try:
            return await self.viewer()
        except DomainError as exc:
            raise graphql_error(exc, self.locale) from None
