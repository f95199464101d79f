"""The error hierarchy: builtin bases, texts, hints."""

from __future__ import annotations

import sys

import pytest

import loop_async.errors as errors_module
from loop_async.errors import (
    DecodeError,
    FieldProblem,
    FieldValidationError,
    LoopAPIError,
    LoopError,
    LoopTimeoutError,
    RelNotAvailableError,
    ServerError,
    TransportError,
    UnsafeLinkError,
)


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
