"""The one argument-problems collector: each check's message, and every problem raised at once."""

from __future__ import annotations

import pytest

from loop_async._sansio.problems import Problems
from loop_async.errors import FieldValidationError


def test_every_check_reports_in_its_own_words_and_all_are_raised_together() -> None:
    problems = Problems("thing")
    problems.boolean("flag", "yes")
    problems.int_at_least("count", 0, 1)
    problems.int_at_least("retries", True, 0, wording="an integer, 0 or more")
    problems.number_at_least("rate", -1, 0, wording="requests per minute", allow_none=True)
    problems.positive_number("wait", 0, wording="a positive number of seconds", allow_none=True)
    problems.instance_of("policy", 3, dict, label="mapping")
    problems.one_of("kind", {"a": 1}, ["png", "svg"])  # unhashable: compared, never hashed
    problems.one_of("format", "png", ["png", "svg"])  # fine
    with pytest.raises(FieldValidationError) as caught:
        problems.raise_if_any()
    assert caught.value.action == "thing"
    assert [(p.name, p.message) for p in caught.value.problems] == [
        ("flag", "must be True or False, got 'yes'"),
        ("count", "must be an integer of at least 1, got 0"),
        ("retries", "must be an integer, 0 or more, got True"),
        ("rate", "must be requests per minute, got -1"),
        ("wait", "must be a positive number of seconds or None, got 0"),
        ("policy", "must be a mapping, got int"),
        ("kind", "must be one of ['png', 'svg'], got {'a': 1}"),
    ]


def test_good_values_and_allowed_nones_report_nothing() -> None:
    problems = Problems("thing")
    problems.boolean("flag", False)
    problems.int_at_least("count", 1, 1)
    problems.number_at_least("rate", None, 0, allow_none=True)
    problems.number_at_least("rate", 0.0, 0)
    problems.positive_number("wait", None, allow_none=True)
    problems.positive_number("wait", 0.5)
    problems.instance_of("policy", None, dict)
    problems.instance_of("policy", {}, dict)
    problems.raise_if_any()
    assert problems.items == []


def test_a_nan_is_not_a_positive_number() -> None:
    problems = Problems("thing")
    problems.positive_number("wait", float("nan"))
    assert [p.name for p in problems.items] == ["wait"]
