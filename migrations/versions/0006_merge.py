"""Merge the slices' branches into one head.

Revision ID: 0006_merge
Revises: 0002_oauth, 0003_callup, 0005_carwash
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0006_merge"
down_revision: str | Sequence[str] | None = ("0002_oauth", "0003_callup", "0005_carwash")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
