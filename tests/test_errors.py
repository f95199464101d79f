"""The error hierarchy: builtin bases, texts, hints."""

from __future__ import annotations

import copy
import pickle
import sys
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from yarl import URL

import loop_async.errors as errors_module
from loop_async import LoopClient
from loop_async.errors import (
    ApiErrorEntry,
    DecodeError,
    FieldProblem,
    FieldValidationError,
    LoopAPIError,
    LoopError,
    LoopTimeoutError,
    NotFoundError,
    RateLimitError,
    RelNotAvailableError,
    ServerError,
    TransportError,
    UnsafeLinkError,
)
from loop_async.testing import FakeLoopServer


def test_every_exception_is_a_loop_error() -> None:
    for name in errors_module.__all__:
        obj = getattr(errors_module, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, LoopError), name


def test_builtin_bases() -> None:
    assert issubclass(LoopTimeoutError, TimeoutError) and issubclass(LoopTimeoutError, TransportError)
    assert issubclass(DecodeError, ValueError)
    assert issubclass(FieldValidationError, ValueError)
    assert issubclass(RelNotAvailableError, LookupError)
    assert issubclass(UnsafeLinkError, ValueError)


def test_hierarchy_tree_is_the_module_docstring() -> None:
    doc = errors_module.__doc__ or ""
    for name in ("LoopError", "TransportError", "LoopTimeoutError", "LoopAPIError", "RateLimitError", "DecodeError"):
        assert name in doc


def test_rel_not_available_lists_rels_and_suggests() -> None:
    error = RelNotAvailableError("finalise-items", ["add-returning-item", "finalize-items"])
    assert "add-returning-item, finalize-items" in str(error)
    assert "Did you mean 'finalize-items'?" in str(error)
    assert "terminal" in str(RelNotAvailableError("x", []))


def test_field_validation_lists_every_problem() -> None:
    error = FieldValidationError([FieldProblem("a", "bad"), FieldProblem("b", "worse")], action="demo")
    assert error.names == ("a", "b")
    assert "a: bad" in str(error) and "b: worse" in str(error) and "nothing was sent" in str(error)


def test_api_error_text() -> None:
    error = ServerError("boom", status=503, codes=["X"], request_id="r1")
    assert str(error) == "HTTP 503 X: boom [request id r1]"
    assert isinstance(error, LoopAPIError) and error.code == "X"


def test_field_validation_error_is_an_exception_group_with_a_note_per_field() -> None:
    # Written without ``except*`` so that this module still parses on Python 3.10.
    error = FieldValidationError([FieldProblem("a", "bad"), FieldProblem("b", "worse")], action="demo")
    assert isinstance(error, errors_module._ExceptionGroup)
    assert list(error.exceptions) == [FieldProblem("a", "bad"), FieldProblem("b", "worse")]
    if sys.version_info >= (3, 11):
        assert error.exceptions[0].__notes__ == ["while validating field 'a' of demo"]
    only_a, rest = error.split(lambda problem: isinstance(problem, FieldProblem) and problem.name == "a")
    assert isinstance(only_a, FieldValidationError)
    assert only_a.names == ("a",)
    assert rest is not None
    assert rest.names == ("b",)


def test_field_validation_errors_survive_pickle_and_copy() -> None:
    import copy
    import pickle

    error = FieldValidationError([FieldProblem("a", "bad")], action="demo")
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):
        assert isinstance(clone, FieldValidationError)
        assert (clone.names, clone.action, str(clone)) == (error.names, error.action, str(error))
    assert pickle.loads(pickle.dumps(FieldProblem("b", "worse"))) == FieldProblem("b", "worse")


def test_a_field_validation_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FieldValidationError([])


# -- pickle and copy (issue 12, point 13) ------------------------------------------------------

_URL = URL("https://api.loopreturns.com/api/v1/warehouse/return/7/process")


def _api(cls: type[errors_module.LoopAPIError], status: int) -> errors_module.LoopAPIError:
    return cls(
        "No return found with this ID.",
        status=status,
        codes=["NOT_FOUND", "x"],
        errors=[ApiErrorEntry(code="NOT_FOUND", message="m", field="f")],
        method="POST",
        url=_URL,
        request_id="req-1",
    )


def _outcome_unknown() -> LoopError:
    cause = LoopTimeoutError("timed out", method="POST", url=_URL, request_sent=None)
    return errors_module.OutcomeUnknownError("may have taken effect", error=cause, method="POST", url=_URL)


# One sample per exception class of ``errors.__all__``, every attribute set to something.
SAMPLES: dict[str, Callable[[], BaseException]] = {
    "LoopError": lambda: LoopError("plain"),
    "TransportError": lambda: TransportError("reset", method="POST", url=_URL, request_sent=None, attempts=3),
    "LoopTimeoutError": lambda: LoopTimeoutError("timed out", method="GET", url=_URL, request_sent=True, attempts=2),
    "RateLimiterTimeoutError": lambda: errors_module.RateLimiterTimeoutError(
        "no rate-limit slot within 5 s", method="POST", url=_URL, request_sent=False
    ),
    "RateLimiterUnavailableError": lambda: errors_module.RateLimiterUnavailableError(
        "redis refused", method="POST", url=_URL, request_sent=False
    ),
    "LoopAPIError": lambda: _api(LoopAPIError, 200),
    "ReturnsUnavailableError": lambda: _api(errors_module.ReturnsUnavailableError, 422),
    "BadRequestError": lambda: _api(errors_module.BadRequestError, 400),
    "AuthenticationError": lambda: _api(errors_module.AuthenticationError, 401),
    "PermissionDeniedError": lambda: _api(errors_module.PermissionDeniedError, 403),
    "NotFoundError": lambda: _api(errors_module.NotFoundError, 404),
    "ConflictError": lambda: _api(errors_module.ConflictError, 409),
    "UnprocessableEntityError": lambda: _api(errors_module.UnprocessableEntityError, 422),
    "RateLimitError": lambda: RateLimitError("slow down", status=429, retry_after=4.5, codes=["RL"], request_id="r"),
    "ServerError": lambda: _api(ServerError, 503),
    "OutcomeUnknownError": _outcome_unknown,
    "PartialOutcomeError": lambda: errors_module.PartialOutcomeError(
        "flagged, but the note failed", done={"flagged": True}, error=_api(ServerError, 500)
    ),
    "PartialFailureError": lambda: errors_module.PartialFailureError(
        [ApiErrorEntry(code="c", message="m")], resource={"draft_return": {"id": 1}}
    ),
    "DecodeError": lambda: DecodeError("not JSON", excerpt="<html>", status=200),
    "ResponseTooLargeError": lambda: errors_module.ResponseTooLargeError("too big", excerpt="[[", status=200),
    "InvalidWebhookError": lambda: errors_module.InvalidWebhookError("not a webhook", excerpt="[]", status=None),
    "FieldProblem": lambda: FieldProblem("a", "bad"),
    "FieldValidationError": lambda: FieldValidationError([FieldProblem("a", "bad")], action="demo"),
    "RelNotAvailableError": lambda: RelNotAvailableError("finalise-items", ["finalize-items"]),
    "RedirectError": lambda: errors_module.RedirectError(
        "a POST is never re-sent by a redirect",
        location="https://api.loopreturns.com/x",
        status=302,
        method="POST",
        url=_URL,
    ),
    "UnsafeLinkError": lambda: UnsafeLinkError("https://evil.example/x", "https://api.loopreturns.com", "other host"),
    "ClientClosedError": lambda: errors_module.ClientClosedError("closed"),
    "DriveLimitError": lambda: errors_module.DriveLimitError(
        3, SimpleNamespace(steps=(SimpleNamespace(rel="next"),), navigator=SimpleNamespace(rels=("next",)))
    ),
    "PoolInputError": lambda: errors_module.PoolInputError(
        {"shop-a": ValueError("bad row 3"), "shop-b": _api(ServerError, 503)}
    ),
}

EXCEPTION_NAMES = [
    name
    for name in errors_module.__all__
    if isinstance(getattr(errors_module, name), type) and issubclass(getattr(errors_module, name), BaseException)
]


def _round_trips(error: BaseException) -> list[BaseException]:
    return [pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)]


def _comparable(value: object) -> object:
    # Exceptions compare by identity: nested ones (``error`` of OutcomeUnknownError) are described.
    if isinstance(value, BaseException):
        return _described(value)
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    return value


def _described(error: BaseException) -> tuple[object, ...]:
    attributes = {name: _comparable(value) for name, value in vars(error).items() if name != "__notes__"}
    return type(error), error.args, str(error), repr(error), attributes


@pytest.mark.parametrize("name", EXCEPTION_NAMES)
def test_every_exception_survives_pickle_and_copy(name: str) -> None:
    assert name in SAMPLES, f"add a sample of {name} to SAMPLES"
    error = SAMPLES[name]()
    assert type(error) is getattr(errors_module, name)
    for clone in _round_trips(error):
        assert clone is not error
        assert _described(clone) == _described(error)
        assert getattr(clone, "__notes__", []) == getattr(error, "__notes__", [])


def test_api_error_attributes_survive() -> None:
    error = RateLimitError("slow down", status=429, retry_after=4.5, codes=["RL", "x"], request_id="r")
    if sys.version_info >= (3, 11):
        error.add_note("while processing return 7")
    for clone in _round_trips(error):
        assert isinstance(clone, RateLimitError)
        assert (clone.status, clone.codes, clone.code, clone.message, clone.request_id, clone.retry_after) == (
            429, ("RL", "x"), "RL", "slow down", "r", 4.5
        )  # fmt: skip
        assert getattr(clone, "__notes__", None) == getattr(error, "__notes__", None)


async def test_a_real_response_travels_with_its_error(
    fake_loop_server: FakeLoopServer, loop_client: LoopClient
) -> None:
    # A real answer of the fake server: aiohttp's read-only header proxy, a parsed body.
    with pytest.raises(NotFoundError) as caught:
        await loop_client.returns.get(return_id=999_999)
    error = caught.value
    assert error.response is not None
    for clone in _round_trips(error):
        assert isinstance(clone, NotFoundError)
        assert clone.response is not None
        assert clone.response == error.response
        assert clone.response.headers["Content-Type"] == error.response.headers["Content-Type"]
        assert clone.response.data == error.response.data and clone.response.data
        assert str(clone) == str(error)
    lean = error.response.without_parsed_body()
    clone = pickle.loads(pickle.dumps(lean))
    assert clone.data == error.response.data and clone.content == lean.content


async def test_a_client_never_pickles_and_an_error_holding_a_navigator_leaves_it_out(
    fake_loop_server: FakeLoopServer, loop_client: LoopClient
) -> None:
    key = fake_loop_server.api_key
    with pytest.raises(TypeError, match="cannot be pickled") as refused:
        pickle.dumps(loop_client)
    assert key not in str(refused.value)
    order = fake_loop_server.orders[0]
    nav = await loop_client.draft_returns.create(order.name, order.zip)
    error = errors_module.PartialFailureError([ApiErrorEntry(code="c", message="m")], resource=nav)
    data = pickle.dumps(error)
    assert key.encode() not in data
    clone = pickle.loads(data)
    assert clone.resource is None and clone.errors == error.errors and str(clone) == str(error)
    assert clone.__notes__ == ["loop-async: not pickled, set to None: resource (Navigator)"]
    # A copy in the same process keeps the live navigator (shared, as a client is).
    assert copy.copy(error).resource is nav
    assert copy.deepcopy(error).resource is nav
