"""The pure date-range helpers of the return-data endpoints: format, validation, 120-day windows."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loop_async._sansio.problems import Problems
from loop_async.errors import FieldValidationError
from loop_async.resources._windows import MAX_WINDOW, check_range, format_loop_datetime, split_windows

UTC = timezone.utc
PARIS_WINTER = timezone(timedelta(hours=1))


def test_format_converts_to_utc_and_drops_fraction() -> None:
    value = datetime(2026, 3, 1, 0, 30, 5, 999_999, tzinfo=PARIS_WINTER)
    assert format_loop_datetime(value) == "2026-02-28 23:30:05"


def test_format_refuses_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_loop_datetime(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("start", "end", "names"),
    [
        (datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), ("start",)),
        (datetime(2026, 1, 1, tzinfo=UTC), "2026-01-02", ("end",)),
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), ("end",)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), ("end",)),
        (None, None, ("start", "end")),
    ],
)
def test_check_range_names_each_problem(start: object, end: object, names: tuple[str, ...]) -> None:
    problems = Problems("test")
    check_range(problems, start, end)
    with pytest.raises(FieldValidationError) as info:
        problems.raise_if_any()
    assert info.value.names == names


def test_check_range_accepts_equal_instants_in_other_zones_as_empty() -> None:
    # 01:00+01:00 is the same instant as 00:00Z: not a range.
    problems = Problems("test")
    check_range(problems, datetime(2026, 1, 1, 1, tzinfo=PARIS_WINTER), datetime(2026, 1, 1, tzinfo=UTC))
    assert [p.name for p in problems.items] == ["end"]


def test_short_range_is_one_window_rounded_outwards() -> None:
    start = datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    end = datetime(2026, 1, 2, 0, 0, 0, 1, tzinfo=UTC)
    assert list(split_windows(start, end)) == [
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, 0, 0, 1, tzinfo=UTC))
    ]


def test_exactly_120_days_is_one_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert list(split_windows(start, start + MAX_WINDOW)) == [(start, start + MAX_WINDOW)]


def test_long_range_windows_share_boundaries() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=300)
    windows = list(split_windows(start, end))
    assert windows == [
        (start, start + timedelta(days=120)),
        (start + timedelta(days=120), start + timedelta(days=240)),
        (start + timedelta(days=240), end),
    ]


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.sampled_from([UTC, PARIS_WINTER])
    ),
    span=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=2000)),
    max_days=st.integers(min_value=1, max_value=120),
)
def test_windows_cover_the_range_without_gaps(start: datetime, span: timedelta, max_days: int) -> None:
    end = start + span
    windows = list(split_windows(start, end, timedelta(days=max_days)))
    assert windows[0][0] <= start
    assert windows[-1][1] >= end
    for lo, hi in windows:
        assert lo < hi <= lo + timedelta(days=max_days)
        assert lo.microsecond == hi.microsecond == 0
        assert lo.tzinfo is UTC
    for (_, previous_end), (next_start, _) in itertools.pairwise(windows):
        assert previous_end == next_start
