"""The daily quota's window: the quota timezone's calendar day, also across a DST change."""

from __future__ import annotations

from datetime import UTC, datetime

from resolvers.limits import day_window


def test_moscow_day_in_utc():
    start, end = day_window(datetime(2026, 11, 23, 20, 59, tzinfo=UTC), "Europe/Moscow")
    assert (start, end) == (datetime(2026, 11, 22, 21, 0, tzinfo=UTC), datetime(2026, 11, 23, 21, 0, tzinfo=UTC))
    # one minute later the next Moscow day starts, though the kept window was asked first
    start, end = day_window(datetime(2026, 11, 23, 21, 0, tzinfo=UTC), "Europe/Moscow")
    assert (start, end) == (datetime(2026, 11, 23, 21, 0, tzinfo=UTC), datetime(2026, 11, 24, 21, 0, tzinfo=UTC))
    # and an earlier time (a clock set back) gets its own day again
    assert day_window(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), "Europe/Moscow")[0] == datetime(
        2026, 11, 22, 21, 0, tzinfo=UTC
    )


def test_a_day_with_a_dst_change_is_23_hours_long():
    start, end = day_window(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Europe/Berlin")
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC) and end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    other = day_window(datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "Asia/Tokyo")
    assert other == (datetime(2026, 3, 28, 15, 0, tzinfo=UTC), datetime(2026, 3, 29, 15, 0, tzinfo=UTC))
