"""Alembic migrations; `washgate migrate` (and `serve`) apply them."""
