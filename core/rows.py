"""Read-only views of table rows, for hot paths that only show what they read.

Loading an ORM entity costs ~50 µs more than reading its row with a Core select; a
request that only renders an account (sign-in, `me`) takes rows instead. A single-table
select already gives rows with the columns' names; a join gives one flat row, which
`split` cuts into one named tuple per table (`View`), with the models' attribute names.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Label, Table


class View:
    """The named-tuple type of one table's rows, and its columns labelled for a join."""

    def __init__(self, table: Table, prefix: str) -> None:
        self.type = namedtuple(f"{table.name}_view", [column.key for column in table.c])  # type: ignore[misc]
        self.columns: list[Label[Any]] = [column.label(f"{prefix}{column.key}") for column in table.c]
        self.width = len(self.columns)
        self.key_index = [column.primary_key for column in table.c].index(True)


def split(row: Sequence[Any], *views: View) -> list[Any]:
    """Cut a flat row of `*view.columns` selects into one named tuple per view; an
    outer-joined table with no row (primary key NULL) gives None."""
    parts, start = [], 0
    for view in views:
        values = tuple(row[start : start + view.width])
        parts.append(None if values[view.key_index] is None else view.type._make(values))
        start += view.width
    return parts
