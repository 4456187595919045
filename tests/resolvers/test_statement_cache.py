"""Hot statements are compiled once: SQLAlchemy caches a statement only when it has a cache key."""

from __future__ import annotations

import pytest

from resolvers.limits import _take_counters_statement


@pytest.mark.parametrize("rows", [1, 2, 3])
@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_the_sending_caps_upsert_is_cacheable(rows, dialect):
    # a multi-row VALUES has no cache key (SQLAlchemy compiled it on every send)
    assert _take_counters_statement(rows)._built[dialect]._generate_cache_key() is not None
