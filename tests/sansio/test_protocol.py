"""Loop's error shapes and their mapping, without a socket."""

from __future__ import annotations

import pytest

from loop_async import AuthenticationError, LoopAPIError, NotFoundError, RateLimitError, UnprocessableEntityError
from loop_async._sansio.protocol import build_api_error, is_true_body, parse_error_body, request_id_from


@pytest.mark.parametrize(
    "body",
    [
        {"errors": {"message": "m", "code": "UNPROCESSABLE_RETURN"}},
        {"message": "m"},
        {"content": "m"},
        {"error": {"message": "m"}},
        {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "m"}},
        {"errors": "m"},
        {"errors": [{"message": "m"}]},
        {"message": "m", "errors": {"field": ["must be set"]}},
    ],
)
def test_every_documented_error_shape_is_recognised(body: object) -> None:
    parsed = parse_error_body(body)
    assert parsed is not None
    assert parsed.message == "m"


@pytest.mark.parametrize(
    "body",
    [
        True,
        "true",
        [],
        {"notes": []},
        {"url": "https://x"},
        {"errors": []},
        {"draft_return": {"id": 1}, "errors": [{"code": "x", "message": "partial"}]},
        {},
    ],
)
def test_data_is_not_an_error(body: object) -> None:
    assert parse_error_body(body) is None


def test_validation_map_becomes_one_entry_per_message() -> None:
    parsed = parse_error_body({"message": "invalid", "errors": {"content": ["too long", "bad"], "x": "y"}})
    assert parsed is not None
    assert [(e.field, e.message) for e in parsed.entries] == [("content", "too long"), ("content", "bad"), ("x", "y")]


@pytest.mark.parametrize(
    ("http", "body", "expected"),
    [
        (200, {"error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}}, AuthenticationError),
        (200, {"errors": "Unauthorized."}, AuthenticationError),
        (200, {"errors": {"message": "x", "code": "UNPROCESSABLE_FLAGGED_RETURN"}}, UnprocessableEntityError),
        (200, {"errors": [{"code": "order-not-found", "message": "x"}]}, NotFoundError),
        (200, {"message": "x"}, LoopAPIError),
        (429, {"message": "x"}, RateLimitError),
        (404, None, NotFoundError),
    ],
)  # fmt: skip
def test_error_class_follows_status_or_what_the_body_says(
    http: int, body: object, expected: type[LoopAPIError]
) -> None:
    error = build_api_error(http, parse_error_body(body), fallback_message="fallback")
    assert type(error) is expected
    assert error.status == http


def test_unknown_codes_are_kept() -> None:
    error = build_api_error(422, parse_error_body({"errors": [{"code": "brand-new-code", "message": "x"}]}),
                            fallback_message="")  # fmt: skip
    assert error.codes == ("brand-new-code",)


def test_true_bodies() -> None:
    assert is_true_body(True)
    assert is_true_body("true")
    assert is_true_body(" TRUE ")
    assert not is_true_body(False)
    assert not is_true_body("false")
    assert not is_true_body({"ok": True})


def test_request_id_header() -> None:
    assert request_id_from({"X-Request-Id": "abc"}) == "abc"
    assert request_id_from({}) is None
