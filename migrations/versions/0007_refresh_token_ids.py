"""Refresh tokens are found by the row id they carry: no unique index over their hashes.

Every sign-in and refresh wrote a page at a random place of that index; tokens issued
before this revision carry no id and are refused from now on (their users sign in again).

Revision ID: 0007_refresh_token_ids
Revises: 0006_merge
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_refresh_token_ids"
down_revision: str | Sequence[str] | None = "0006_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps the constraint without a name: the batch copy names it so that it can drop it
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
SQLITE_NAME = "uq_refresh_tokens_token_hash"
POSTGRES_NAME = "refresh_tokens_token_hash_key"  # PostgreSQL's own name for it


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("refresh_tokens", naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(SQLITE_NAME, type_="unique")
        return
    names = [
        uq["name"]
        for uq in sa.inspect(bind).get_unique_constraints("refresh_tokens")
        if uq["column_names"] == ["token_hash"]
    ]
    for name in names:
        op.drop_constraint(name, "refresh_tokens", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("refresh_tokens", naming_convention=NAMING) as batch_op:
            batch_op.create_unique_constraint(SQLITE_NAME, ["token_hash"])
        return
    op.create_unique_constraint(POSTGRES_NAME, "refresh_tokens", ["token_hash"])
