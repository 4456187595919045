"""The `washgate` command: serve, migrate, demo and the admin commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from core.db import Database
from core.security import Keys
from core.services import Services
from core.settings import Settings
from washgate import admin
from washgate.logs import log_config
from washgate.supervision import mark_supervisor

TRACE = 5  # uvicorn's level below DEBUG; registered by uvicorn on import, here before it is imported


class DatabaseUnavailable(Exception):
    """The database could not be reached or used; the message is the line to print."""


def configuration_problems(error: ValidationError) -> list[str]:
    """One line per refused setting, named as the operator spelt it; never the value (it may be
    a secret), never pydantic's links."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        message = problem["msg"].removeprefix("Value error, ")
        name = f"WASHGATE_{str(problem['loc'][0]).upper()}: " if problem["loc"] else ""
        lines.append(f"washgate: invalid configuration: {name}{message}")
    return lines


@contextmanager
def using_database(settings: Settings) -> Iterator[None]:
    """Turn a database that cannot be reached, opened or used into DatabaseUnavailable.

    Only those failures: a refused connect, an unknown host, bad credentials, a file that
    cannot be opened, a database that fails while in use (locked, disk full, connection lost).
    A statement the database refuses (ProgrammingError, IntegrityError) and every other
    exception keep their traceback: they are bugs to report, not settings to fix.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    from core.migrate import unreachable

    try:
        yield
    except Exception as exc:
        if not (unreachable(exc) or isinstance(exc, OperationalError | InterfaceError | sqlite3.OperationalError)):
            raise
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        lines = str(reason).strip().splitlines()
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        message = f"washgate: cannot use the database {shown}: {lines[0] if lines else type(reason).__name__}"
        raise DatabaseUnavailable(message) from exc


def migrate_database(settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    from core.migrate import upgrade

    with using_database(settings):
        if settings.is_sqlite:
            # Opened (created when missing, as SQLite does) by the standard driver first: a
            # file that cannot be opened fails here, not in aiosqlite's worker thread, which
            # then printed a traceback of its own as the process ended.
            sqlite3.connect(make_url(settings.database_url).database or "").close()
        upgrade(settings.database_url)


def _emit(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key}: {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value}")


def configure_logging(settings: Settings) -> None:
    logging.addLevelName(TRACE, "TRACE")
    logging.config.dictConfig(log_config(settings.log_level))


def run_admin(settings: Settings, action: Callable[[Database, Services], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Migrate, then run one admin action with a database and services of its own."""
    migrate_database(settings)

    async def main() -> dict[str, Any]:
        from resolvers.server_secret import load_or_create_secret_key
        from washgate.app import make_delivery

        db = Database.from_settings(settings)
        try:
            secret = settings.secret_key
            if not secret:
                async with db.session() as session:
                    secret = await load_or_create_secret_key(session)
            services = Services(settings=settings, keys=Keys.derive(secret), delivery=make_delivery(settings))
            return await action(db, services)
        finally:
            await db.dispose()

    with using_database(settings):
        return asyncio.run(main())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from washgate.http_protocol import BoundedHttpToolsProtocol

    if settings.is_sqlite and args.workers > 1:
        print(
            "washgate: --workers above 1 needs PostgreSQL: set WASHGATE_DATABASE_URL=postgresql+asyncpg://...",
            file=sys.stderr,
        )
        return 2
    if settings.is_production and (problems := settings.problems_for_production()):
        print("washgate: refusing to start in production: " + "; ".join(problems), file=sys.stderr)
        return 2
    migrate_database(settings)
    if args.demo:
        result = run_admin(settings, admin.demo)
        print("demo data: " + json.dumps(result, ensure_ascii=False))
    base = f"http://{args.host}:{args.port}"
    print(f"washgate on {base}  (database: {settings.database_url.split('://')[0]})")
    if settings.graphiql_enabled:
        print(f"  GraphiQL:   {base}/graphql")
    else:
        print(f"  GraphQL:    {base}/graphql (POST; GraphiQL off in production)")
    print(f"  REST docs:  {base}/docs   OpenAPI: {base}/openapi.json")
    sys.stdout.flush()
    if args.workers > 1:
        mark_supervisor()
    uvicorn.run(
        "washgate.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http=BoundedHttpToolsProtocol,  # httptools, with the request head bounded in size, head and body in time
        access_log=not args.no_access_log,
        proxy_headers=False,
        server_header=False,
        ws_max_size=settings.max_body_bytes,  # a WebSocket message is capped like a request body
        log_level=settings.log_level.lower(),
        log_config=log_config(settings.log_level),
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    migrate_database(settings)
    print("migrations applied")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="washgate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations and serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-access-log", action="store_true")
    serve.add_argument("--demo", action="store_true", help="seed the demo data first")
    serve.set_defaults(handler=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply migrations and exit")
    migrate.set_defaults(handler=cmd_migrate)

    admin.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print("\n".join(configuration_problems(exc)), file=sys.stderr)
        return 2
    except (SettingsError, UnicodeDecodeError) as exc:  # a source that cannot be read at all, such as a .env file
        print(f"washgate: invalid configuration: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        if hasattr(args, "action"):
            try:
                result = run_admin(settings, lambda db, services: args.action(db, services, args))
            except admin.AdminError as exc:
                print(f"washgate: {exc}", file=sys.stderr)
                return 1
            _emit(result, getattr(args, "json", False))
            return 0
        return int(args.handler(args, settings))
    except DatabaseUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
