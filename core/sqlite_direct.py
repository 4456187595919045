"""Core statements compiled once by SQLAlchemy and run on the sqlite3 connection itself.

The hot paths (codes, limits, sign-in sessions) run a handful of prebuilt Core
statements per request. SQLAlchemy compiles each once (cached), but its execution
layer still costs 15-25 µs per statement here (execution context, parameter
construction, result metadata), several times SQLite's own work. A `Prepared`
statement keeps what that layer works out on every call: the SQL text, which value
goes to which `?`, SQLAlchemy's own bind and result processors for each column type,
and a row class with the columns' names. Running it is one driver call.

NULL stays None both ways without calling a processor, as SQLAlchemy's own types and
sqlmodel's UTCDateTime do (a custom type that maps None to something else must not
use this path). Anything this cannot reproduce exactly (Python-side column defaults to compute,
expanding IN parameters, callables, textual SQL, duplicate column names) is left to
SQLAlchemy (`prepare` returns None), so results never differ; driver errors are raised
as SQLAlchemy's own exceptions (IntegrityError, ...), as on every other path.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Delete, Dialect, Executable, Insert, Select, Update
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound

_REQUIRED = object()
_CACHE_LIMIT = 512  # distinct (statement, parameter names): module constants in practice

Processor = Callable[[Any], Any] | None


class Rows:
    """The part of SQLAlchemy's Result API the resolvers use, over fetched rows."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: Sequence[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise (NoResultFound if not self._rows else MultipleResultsFound)("expected exactly one row")
        return self._rows[0][0]


class Prepared:
    """One statement compiled for SQLite with one set of parameter names."""

    __slots__ = ("_binds", "_columns", "_row", "sql")

    def __init__(self, sql: str, binds: list[tuple[str, Any, Processor]], columns: list[Processor], row: Any) -> None:
        self.sql = sql
        self._binds = binds
        self._columns = columns
        self._row = row

    def run(self, connection: sqlite3.Connection, params: dict[str, Any]) -> Rows:
        values = []
        for key, default, process in self._binds:
            value = params.get(key, default)
            if value is _REQUIRED:
                raise KeyError(f"missing value for bind parameter {key!r}")
            values.append(process(value) if process is not None and value is not None else value)
        try:
            cursor = connection.execute(self.sql, values)
            fetched = cursor.fetchall() if self._row is not None else ()  # RETURNING completes only then
        except sqlite3.Error as exc:  # as SQLAlchemy raises it (IntegrityError, OperationalError, ...)
            raise DBAPIError.instance(self.sql, values, exc, sqlite3.Error, hide_parameters=True) from exc
        if self._row is None:
            return Rows((), cursor.rowcount)
        row, columns = self._row, self._columns
        rows = [
            row(
                *[
                    value if proc is None or value is None else proc(value)
                    for proc, value in zip(columns, raw, strict=True)
                ]
            )
            for raw in fetched
        ]
        return Rows(rows, cursor.rowcount)


def prepare(statement: Executable, params: dict[str, Any], dialect: Dialect) -> Prepared | None:
    """`statement` with these parameter names, ready to run directly; None when only
    SQLAlchemy's execution path can run it faithfully."""
    if not isinstance(statement, (Select, Insert, Update, Delete)):
        return None
    compiled: Any = statement.compile(dialect=dialect, column_keys=sorted(params))
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
        return None  # Python-side defaults would have to be computed per row
    binds: list[tuple[str, Any, Processor]] = []
    processors = compiled._bind_processors
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if bind.expanding or bind.callable is not None or bind.literal_execute:
            return None
        default = _REQUIRED if bind.required else bind.value
        binds.append((bind.key, default, processors.get(name)))
    result_columns = compiled._result_columns
    if not result_columns:
        return Prepared(compiled.string, binds, [], None)
    names = [entry.keyname for entry in result_columns]
    try:
        row = namedtuple("Row", names)  # type: ignore[misc]
    except ValueError:  # duplicate or reserved names: SQLAlchemy's Row handles those
        return None
    columns = [entry.type._cached_result_processor(dialect, None) for entry in result_columns]
    return Prepared(compiled.string, binds, columns, row)


class PreparedCache:
    """Prepared statements by (statement, parameter names); statements are kept alive by the keys."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._prepared: dict[tuple[Executable, tuple[str, ...]], Prepared | None] = {}

    def get(self, statement: Executable, params: dict[str, Any]) -> Prepared | None:
        key = (statement, tuple(params))
        try:
            return self._prepared[key]
        except KeyError:
            pass
        if len(self._prepared) >= _CACHE_LIMIT:
            self._prepared.clear()
        prepared = self._prepared[key] = prepare(statement, params, self._dialect)
        return prepared
