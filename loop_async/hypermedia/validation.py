"""Check values against a link's ``fields`` metadata before anything is sent (pure code).

Every problem of every field is collected (through :class:`~loop_async._sansio.problems.Problems`)
into one :class:`~loop_async.errors.FieldValidationError`; nothing here sends or fetches (remote
options are filled in first by :mod:`.options`). The rules: ``docs/draft-returns.md``
("Validation rules").
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import attrs

from loop_async._sansio.problems import Problems
from loop_async._suggest import did_you_mean
from loop_async.errors import FieldProblem
from loop_async.models.links import Field

__all__ = ["canonical_type", "check_value", "check_values", "validate_values", "value_problems"]

_ALIASES: Mapping[str, str] = {
    "int": "int",
    "integer": "int",
    "string": "string",
    "str": "string",
    "text": "string",
    "bool": "bool",
    "boolean": "bool",
    "enum": "enum",
    "number": "number",
    "float": "number",
    "double": "number",
    "decimal": "number",
    "object": "object",
    "dict": "object",
    "map": "object",
    "array": "array",
    "list": "array",
}
_SHOWN_ALLOWED = 10


def canonical_type(field: Field) -> str | None:
    """The SDK's name for the field's type (``None`` when untyped or unknown: anything goes)."""
    if field.type is None:
        return None
    return _ALIASES.get(str(field.type.value).strip().lower())


def _type_problem(kind: str, value: Any) -> str | None:
    got = type(value).__name__
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "enum":
        ok = isinstance(value, str | int | float | bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    elif kind == "object":
        ok = isinstance(value, Mapping) or attrs.has(type(value))
    elif kind == "array":
        ok = isinstance(value, list | tuple)
    else:  # pragma: no cover - canonical_type returns only the kinds above
        ok = True
    if ok:
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    return f"must be {article} {kind}, got {got} {value!r}"[:200]


def _same(value: Any, allowed: Any) -> bool:
    # bool is a subclass of int in Python: keep True and 1 apart, as JSON does.
    if isinstance(value, bool) or isinstance(allowed, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value is allowed
    try:
        return bool(value == allowed)
    except Exception:  # noqa: BLE001 - an exotic __eq__ means "not equal" here
        return False


def _is_allowed(value: Any, allowed: Iterable[Any]) -> bool:
    return any(_same(value, candidate) for candidate in allowed)


def _describe_allowed(allowed: Sequence[Any]) -> str:
    shown = ", ".join(repr(v) for v in allowed[:_SHOWN_ALLOWED])
    more = f", ... ({len(allowed)} in all)" if len(allowed) > _SHOWN_ALLOWED else ""
    return f"[{shown}{more}]" if allowed else "[] (no value is allowed now)"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # the server's pattern, in a dialect Python does not read: the server judges


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _off_step(value: float, base: float, step: float) -> bool:
    try:
        return (Fraction(str(value)) - Fraction(str(base))) % Fraction(str(step)) != 0
    except (ValueError, ZeroDivisionError):
        return False


def _constraint_problems(field: Field, value: Any) -> list[str]:
    """The HAL-FORMS constraints on one scalar value (type already checked)."""
    problems: list[str] = []
    if isinstance(value, str):
        if field.min_length is not None and len(value) < field.min_length:
            problems.append(f"must be at least {field.min_length} characters long, got {len(value)}")
        if field.max_length is not None and len(value) > field.max_length:
            problems.append(f"must be at most {field.max_length} characters long, got {len(value)}")
        pattern = _compiled(field.regex) if field.regex else None
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(f"must match the pattern {field.regex!r}")
    if _is_number(value) and math.isfinite(value):
        if field.min is not None and value < field.min:
            problems.append(f"must be at least {_fmt(field.min)}, got {value!r}")
        if field.max is not None and value > field.max:
            problems.append(f"must be at most {_fmt(field.max)}, got {value!r}")
        if field.step is not None and field.step > 0 and _off_step(value, field.min or 0, field.step):
            base = f" from {_fmt(field.min)}" if field.min else ""
            problems.append(f"must be in steps of {_fmt(field.step)}{base}, got {value!r}")
    return problems


def _multiple_problems(field: Field, value: Any) -> list[str]:
    items = list(value) if isinstance(value, list | tuple) else [value]
    problems: list[str] = []
    scalar = [item for item in items if _type_problem("enum", item) is not None]
    if scalar:
        problems.append(f"takes a list of option values; {scalar!r} are not JSON scalars"[:200])
    elif field.allowed_values is not None:
        bad = [item for item in items if not _is_allowed(item, field.allowed_values)]
        if bad:
            problems.append(f"{bad!r} are not allowed; allowed values: {_describe_allowed(field.allowed_values)}")
    if len({repr(item) for item in items}) != len(items):
        problems.append("lists a value more than once")
    if field.min_items is not None and len(items) < field.min_items:
        problems.append(f"takes at least {field.min_items} values, got {len(items)}")
    if field.max_items is not None and len(items) > field.max_items:
        problems.append(f"takes at most {field.max_items} values, got {len(items)}")
    return problems


def value_problems(field: Field, value: Any) -> list[str]:
    """Everything wrong with ``value`` for ``field`` (empty when it is fine)."""
    if field.read_only and not _same(value, field.value):
        shown = "left out" if field.value is None else f"left out or {field.value!r}"
        return [f"is read-only: it must be {shown}, got {value!r}"[:200]]
    if field.multiple:
        return _multiple_problems(field, value)
    kind = canonical_type(field)
    if kind is not None:
        problem = _type_problem(kind, value)
        if problem is not None:
            return [problem]
    allowed = field.allowed_values
    if allowed is not None:
        if kind == "array":
            bad = [item for item in value if not _is_allowed(item, allowed)]
            if bad:
                return [f"elements {bad!r} are not allowed; allowed values: {_describe_allowed(allowed)}"]
        elif not _is_allowed(value, allowed):
            return [f"{value!r} is not allowed; allowed values: {_describe_allowed(allowed)}"]
    return _constraint_problems(field, value)


def check_value(field: Field, value: Any) -> str | None:
    """What is wrong with ``value`` for ``field`` (every problem, joined with ``;``), or ``None``."""
    problems = value_problems(field, value)
    return "; ".join(problems) if problems else None


def _collect(fields: Sequence[Field], values: Mapping[str, Any], problems: Problems) -> None:
    """Add every problem with ``values`` against ``fields`` to ``problems``, in field order then unknown names."""
    by_name: dict[str, Field] = {}
    for field in fields:
        by_name.setdefault(field.name, field)
    for name, field in by_name.items():
        if name not in values or values[name] is None:
            if field.is_required and field.value is None:
                problems.add(name, "is required")
            continue
        message = check_value(field, values[name])
        if message is not None:
            problems.add(name, message)
    for name in values:
        if name in by_name:
            continue
        if not by_name:
            problems.add(name, "unknown field: this action takes no fields")
            continue
        hint = did_you_mean(name, by_name)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        problems.add(name, f"unknown field{suggestion} (fields: {', '.join(by_name)})")


def check_values(fields: Sequence[Field], values: Mapping[str, Any]) -> list[FieldProblem]:
    """Every problem with ``values`` against ``fields``, in field order then unknown names."""
    problems = Problems(None)
    _collect(fields, values, problems)
    return problems.items


def validate_values(fields: Sequence[Field], values: Mapping[str, Any], *, action: str | None = None) -> dict[str, Any]:
    """Check ``values`` against ``fields``; return what to send (``None`` optionals dropped, defaults added).

    A field the caller leaves out (or gives as ``None``) that has a ``value`` is sent with it.
    Raises :class:`FieldValidationError` listing every problem at once.
    """
    problems = Problems(action)
    _collect(fields, values, problems)
    problems.raise_if_any()
    payload = {name: value for name, value in values.items() if value is not None}
    for field in fields:
        if field.value is not None and payload.get(field.name) is None:
            payload[field.name] = field.value
    return payload
