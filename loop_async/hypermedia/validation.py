"""Check values against a link's ``fields`` metadata before anything is sent (pure code).

The rules, applied to every field, every problem collected into one
:class:`~loop_async.errors.FieldValidationError`:

- a name that is not among the link's fields is refused, with a did-you-mean hint;
- a field with ``is_required`` must be given, and not as ``None``; an optional field given
  as ``None`` is left out of the request;
- the value must have the field's type: ``int`` (a ``bool`` is *not* an int), ``string``,
  ``bool``, ``enum`` (a JSON scalar), ``number`` (int or finite float), ``object`` (a mapping
  or an attrs instance), ``array`` (a list or tuple). Aliases such as ``integer``, ``str``,
  ``boolean``, ``float``, ``list`` are understood; a type the SDK does not know is accepted
  as is, since the server is the judge of its own types;
- when ``allowed_values`` is given, the value must be one of them (for an ``array``, every
  element must be), compared strictly: ``True`` is not ``1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from loop_async.errors import FieldProblem, FieldValidationError, did_you_mean
from loop_async.models.links import Field

__all__ = ["canonical_type", "check_value", "check_values", "validate_values"]

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


def check_value(field: Field, value: Any) -> str | None:
    """What is wrong with ``value`` for ``field`` (type, then allowed values), or ``None``."""
    kind = canonical_type(field)
    if kind is not None:
        problem = _type_problem(kind, value)
        if problem is not None:
            return problem
    allowed = field.allowed_values
    if allowed is None:
        return None
    if kind == "array":
        bad = [item for item in value if not _is_allowed(item, allowed)]
        if bad:
            return f"elements {bad!r} are not allowed; allowed values: {_describe_allowed(allowed)}"
        return None
    if not _is_allowed(value, allowed):
        return f"{value!r} is not allowed; allowed values: {_describe_allowed(allowed)}"
    return None


def check_values(fields: Sequence[Field], values: Mapping[str, Any]) -> list[FieldProblem]:
    """Every problem with ``values`` against ``fields``, in field order then unknown names."""
    by_name: dict[str, Field] = {}
    for field in fields:
        by_name.setdefault(field.name, field)
    problems: list[FieldProblem] = []
    for name, field in by_name.items():
        if name not in values or values[name] is None:
            if field.is_required:
                problems.append(FieldProblem(name, "is required"))
            continue
        message = check_value(field, values[name])
        if message is not None:
            problems.append(FieldProblem(name, message))
    for name in values:
        if name in by_name:
            continue
        if not by_name:
            problems.append(FieldProblem(name, "unknown field: this action takes no fields"))
            continue
        hint = did_you_mean(name, by_name)
        suggestion = f"; did you mean {hint!r}?" if hint else ""
        problems.append(FieldProblem(name, f"unknown field{suggestion} (fields: {', '.join(by_name)})"))
    return problems


def validate_values(fields: Sequence[Field], values: Mapping[str, Any], *, action: str | None = None) -> dict[str, Any]:
    """Check ``values`` against ``fields``; return what to send (``None`` optionals dropped).

    Raises :class:`FieldValidationError` listing every problem at once.
    """
    problems = check_values(fields, values)
    if problems:
        raise FieldValidationError(problems, action=action)
    return {name: value for name, value in values.items() if value is not None}
