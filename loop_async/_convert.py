"""The one place where JSON is turned into models and back.

Two converters share one configuration: a fast one for the hot path, and one with detailed
validation that runs only after the fast one has failed, to name the path of the bad field
in the :class:`~loop_async.errors.DecodeError`.

Rules (the API grows, and the SDK must not break when it does):

- unknown keys are ignored;
- unknown enum values decode to an :class:`~loop_async.models.OpenEnum` pseudo-member;
- ``null`` for a collection decodes to an empty tuple; ``null`` for an optional field to ``None``;
- integers stay integers (a ``bool`` or a float is not an int), money strings become ``Decimal``,
  never ``float``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import BaseValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from loop_async.errors import DecodeError
from loop_async.models._enum import OpenEnum
from loop_async.models.common import ApiErrorEntry, Money
from loop_async.models.return_data import AsnRow, Return, ReturnsPage
from loop_async.models.webhooks import EVENT_TYPES, ReturnEvent, UnknownWebhookEvent, WebhookTopic, WebhookTrigger

__all__ = ["converter", "structure", "unstructure"]

T = TypeVar("T")


def _structure_int(value: object, _: type) -> int:
    if type(value) is int:  # the hot path: JSON integers are exact ints (a bool is not)
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _structure_str(value: object, _: type) -> str:
    # Identifiers such as zip codes sometimes arrive as numbers; keep them as text.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _structure_decimal(value: object, _: type) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    try:
        # str() first: Decimal(0.1) would carry the binary float's error into the amount.
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal number: {value!r}")
    return result


def _structure_datetime(value: object, _: type) -> datetime:
    """ISO 8601 or Loop's ``YYYY-MM-DD HH:MM:SS``; a time without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise TypeError(f"expected a date-time string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"  # Python 3.10's fromisoformat does not read "Z"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def _unstructure_datetime(value: datetime) -> str:
    return value.isoformat()


def _is_optional(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args


def _structure_open_enum(value: Any, cls: type[OpenEnum]) -> OpenEnum:
    # A dict lookup for known values; the enum's __call__ (and _missing_) only for the rest.
    member = cls._value2member_map_.get(value) if type(value) is str else None
    return member if member is not None else cls(value)  # type: ignore[return-value]


def _is_variadic_tuple(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


def _objects_only(base: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    # cattrs' generated hook tests optional keys with ``in``: a JSON array or string would
    # decode to an all-defaults object (an empty page, no notes) instead of failing.
    def structure_object(value: Any, tp: Any) -> Any:
        # ``type is dict`` first: parsed JSON objects are dicts, and the ABC check costs ~10% of a decode.
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return base(value, tp)

    return structure_object


def _model_hook(cls: type[Any], conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    base = make_dict_structure_fn(cls, conv)
    # A class with a required field already fails on a non-object (``o["id"]`` raises), so
    # only all-optional classes pay for the extra check: it is one call per object decoded.
    if any(field.default is attrs.NOTHING for field in attrs.fields(cls)):
        return base
    return _objects_only(base)


def _configure(conv: cattrs.Converter) -> cattrs.Converter:
    # Registered first, so the specific hooks registered below still win for their classes.
    conv.register_structure_hook_factory(attrs.has, lambda cls: _model_hook(cls, conv))
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    # By type: cattrs' built-in ``str`` hook would otherwise turn any JSON value into its repr.
    conv.register_structure_hook(str, _structure_str)
    # By class, so that it wins over the ``str`` hook, which every str enum would otherwise hit.
    conv.register_structure_hook(OpenEnum, _structure_open_enum)

    def optional(tp: Any) -> Callable[[Any, Any], Any]:
        # cattrs' own Optional hook dispatches on the inner type at every call (a third of
        # the decode time of a draft return); look the inner hook up once instead.
        inner_type = next(arg for arg in typing.get_args(tp) if arg is not type(None))
        inner = conv.get_structure_hook(inner_type)
        if inner_type in (str, int, bool):
            # A JSON scalar of exactly the right type is already the answer (a bool is not an int).
            def structure_scalar(value: Any, _: Any) -> Any:
                if value is None or type(value) is inner_type:
                    return value
                return inner(value, inner_type)

            return structure_scalar

        def structure_optional(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return structure_optional

    conv.register_structure_hook_factory(_is_optional, optional)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_unstructure_hook(Decimal, str)
    conv.register_unstructure_hook(datetime, _unstructure_datetime)
    # By predicate: Python 3.10's singledispatch cannot register ``Any``.
    conv.register_structure_hook_func(lambda t: t is Any, lambda value, _: value)

    def tuple_or_empty(tp: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
        if not conv.detailed_validation:
            # The hot path: one call per list, not two (cattrs' own tuple hook underneath).
            item_type = typing.get_args(tp)[0]
            item = conv.get_structure_hook(item_type)

            def structure_items(value: Any, _: Any) -> tuple[Any, ...]:
                if type(value) is list:
                    return tuple([item(element, item_type) for element in value])
                if value is None:
                    return ()
                if not isinstance(value, list | tuple):  # a str or dict is iterable too: refuse
                    raise TypeError(f"expected a list, got {type(value).__name__}")
                return tuple([item(element, item_type) for element in value])

            return structure_items
        # Detailed validation keeps cattrs' hook, which names the index of a bad element.
        inner = homogenous_tuple_structure_factory(tp, conv)

        def structure_tuple(value: Any, _: Any) -> tuple[Any, ...]:
            if value is None:
                return ()
            if not isinstance(value, list | tuple):  # a str or dict is iterable too: refuse
                raise TypeError(f"expected a list, got {type(value).__name__}")
            result: tuple[Any, ...] = inner(value, tp)
            return result

        return structure_tuple

    conv.register_structure_hook_factory(_is_variadic_tuple, tuple_or_empty)
    # ``field`` is ours (from validation-error maps), not Loop's: leave it out when unset.
    conv.register_unstructure_hook(
        ApiErrorEntry, make_dict_unstructure_fn(ApiErrorEntry, conv, _cattrs_omit_if_default=True)
    )
    if not conv.detailed_validation:
        # Money is most of the objects in a draft return (14 in the reference payload): a direct
        # path for the usual shape, the generated hook for anything else (and for its errors).
        money_hook = conv.get_structure_hook(Money)

        def structure_money(value: Any, tp: Any) -> Money:
            if type(value) is dict:
                amount, currency = value.get("amount"), value.get("currency")
                if type(amount) is int and (currency is None or type(currency) is str):
                    return Money(amount=amount, currency=currency)
            result: Money = money_hook(value, tp)
            return result

        conv.register_structure_hook(Money, structure_money)
    # Loop's paginated list uses camelCase for its page links.
    conv.register_structure_hook(
        ReturnsPage,
        _objects_only(
            make_dict_structure_fn(
                ReturnsPage,
                conv,
                next_page_url=override(rename="nextPageUrl"),
                previous_page_url=override(rename="previousPageUrl"),
            )
        ),
    )
    _configure_return_data_and_webhooks(conv)
    return conv


def _configure_return_data_and_webhooks(conv: cattrs.Converter) -> None:
    """Hooks for ASN rows (unlisted columns kept in ``extra``) and webhook events (``raw`` kept)."""
    asn_known = {a.name for a in attrs.fields(AsnRow)} - {"extra"}
    asn_base = make_dict_structure_fn(AsnRow, conv, extra=override(omit=True))

    def structure_asn(value: Any, tp: Any) -> AsnRow:
        extra = {k: v for k, v in value.items() if k not in asn_known}
        return attrs.evolve(asn_base(value, tp), extra=extra)

    conv.register_structure_hook(AsnRow, _objects_only(structure_asn))

    def with_raw(cls: type[Any]) -> Callable[[Any, Any], Any]:
        base = make_dict_structure_fn(cls, conv, raw=override(omit=True))

        def structure_event(value: Any, tp: Any) -> Any:
            return attrs.evolve(base(value, tp), raw=dict(value))

        return _objects_only(structure_event)

    for event_cls in {*EVENT_TYPES.values(), UnknownWebhookEvent} - {ReturnEvent}:
        conv.register_structure_hook(event_cls, with_raw(event_cls))

    def structure_return_event(value: Any, _: Any) -> ReturnEvent:
        # The return's own fields sit at the top level, next to topic and trigger.
        return ReturnEvent(
            topic=conv.structure(value.get("topic"), WebhookTopic),
            trigger=conv.structure(value.get("trigger"), WebhookTrigger),
            return_=conv.structure(value, Return),
            raw=dict(value),
        )

    conv.register_structure_hook(ReturnEvent, _objects_only(structure_return_event))


_fast = _configure(cattrs.Converter(detailed_validation=False))
_detailed = _configure(cattrs.Converter(detailed_validation=True))

#: The converter used for every model. Register hooks for your own types on it if needed.
converter = _fast


def structure(data: Any, cls: type[T], *, what: str | None = None) -> T:
    """Decode JSON-shaped ``data`` into ``cls``, or raise :class:`DecodeError` naming the bad path."""
    try:
        return _fast.structure(data, cls)
    except Exception:  # noqa: BLE001 - any failure here is re-diagnosed below
        pass
    name = what or getattr(cls, "__name__", str(cls))
    if attrs.has(cls) and not isinstance(data, Mapping):
        raise DecodeError(f"cannot decode {name}: expected a JSON object, got {_json_type(data)}")
    try:
        _detailed.structure(data, cls)
    except BaseValidationError as exc:
        problems = cattrs.transform_error(exc, path="$")
        raise DecodeError(f"cannot decode {name}: " + "; ".join(problems[:10])) from None
    except Exception as exc:  # noqa: BLE001 - junk must become DecodeError, never leak
        raise DecodeError(f"cannot decode {name}: {type(exc).__name__}: {exc}") from None
    # The detailed converter accepted what the fast one refused: should not happen.
    raise DecodeError(f"cannot decode {name}")


def _json_type(data: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if data is None else names.get(type(data), type(data).__name__)


def unstructure(obj: Any) -> Any:
    """Encode a model back into JSON-shaped data (tuples become lists when serialised)."""
    return _fast.unstructure(obj)
