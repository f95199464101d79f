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

import sys
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
from loop_async.models._open_enum import OpenEnum
from loop_async.models.common import ApiErrorEntry
from loop_async.models.draft_returns import DraftReturn, DraftReturnResponse
from loop_async.models.links import Field, Link
from loop_async.models.return_data import AsnRow, Return, ReturnsPage
from loop_async.models.webhook_events import (
    EVENT_TYPES,
    LooseInt,
    RestockEvent,
    ReturnEvent,
    UnknownWebhookEvent,
    WebhookTopic,
    WebhookTrigger,
)

__all__ = ["converter", "structure", "unstructure"]

# Unstructured only when set: attributes the SDK adds to Loop's documented shapes.
_SDK_ADDED_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    # Inner classes first: a generated hook binds the hooks of its attributes' classes.
    Field: tuple(a.name for a in attrs.fields(Field))[5:],  # after Loop's five: the HAL-FORMS constraints
    Link: ("content_type",),
    DraftReturn: ("payment_intent", "return_policy_accepted"),
    DraftReturnResponse: ("processing_type_options", "client_application"),
}

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


# --- generated structuring code ----------------------------------------------------------
#
# cattrs' generated hooks build each object through the class's ``__init__``; for a frozen
# attrs class that is one ``object.__setattr__`` per field behind attrs' frozen guard, and a
# hook call per field. For the hot path the converter generates, once per class, a function
# that reads each key, converts it inline when the JSON value is already of the right type
# (an exact ``int``, ``str`` or ``bool``, a known enum string, a list of objects), calls the
# converter's own hook otherwise, and stores the result straight into the instance's slot
# (``object.__new__`` + the slot descriptor). The classes stay frozen for their users; only
# this construction bypasses the guard, and it fills every field exactly as ``__init__``
# would (same defaults, same hooks). Anything the generator does not cover (validators,
# converters, ``__attrs_post_init__``, fields outside ``__init__``, dict-based classes)
# keeps cattrs' own hook. Whatever the fast path refuses is diagnosed by the detailed
# converter, which still goes through cattrs, so a ``DecodeError`` names the same field.

_MISSING: Any = object()
_SCALARS = (int, str, bool)
# Vocabulary strings: the same few values in every answer (rels, methods, field names, currency
# codes, a shop's reasons and return methods). Interned, every held model and link shares one
# copy instead of one per parse.
_INTERNED: Mapping[str, frozenset[str]] = {
    "Link": frozenset({"rel", "method", "description", "prompt", "content_type"}),
    "Field": frozenset({"name", "description", "prompt_field", "value_field", "regex"}),
    "Money": frozenset({"currency"}),
    "DraftReturn": frozenset({"currency", "language", "selected_return_method"}),
    "Order": frozenset({"currency"}),
    "CartItem": frozenset({"price_currency_code", "product_type"}),
    "CartProduct": frozenset({"product_type"}),
    "ReturnReason": frozenset({"name"}),
    "ChildReturnReason": frozenset({"name"}),
    "ReturnMethod": frozenset({"name", "carrier"}),
    "ReturnPolicy": frozenset({"name"}),
}
_generating: set[type[Any]] = set()  # classes whose function is being written (for self-reference)


def _can_generate(cls: type[Any]) -> bool:
    if "__slots__" not in cls.__dict__ or hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        return False
    for a in attrs.fields(cls):
        if not a.init or a.validator is not None or a.converter is not None:
            return False
        if isinstance(a.default, attrs.Factory) and a.default.takes_self:  # type: ignore[arg-type]
            return False
        if not isinstance(getattr(cls, a.name, None), types.MemberDescriptorType):
            return False
    return True


class _Generator:
    """Writes the structuring function of one attrs class (see the block comment above)."""

    def __init__(self, conv: cattrs.Converter, fast: dict[type[Any], Callable[..., Any]]) -> None:
        self._conv = conv
        self._fast = fast  # class -> generated function (callable with one argument)
        self._names: dict[str, Any] = {
            "new": object.__new__,
            "Mapping": Mapping,
            "MISSING": _MISSING,
            "intern": sys.intern,
        }
        self._lines: list[str] = []

    def _bind(self, prefix: str, value: Any) -> str:
        name = f"{prefix}{len(self._names)}"
        self._names[name] = value
        return name

    def _hook(self, tp: Any) -> str:
        if tp in _generating:  # a class that contains itself: look its hook up at call time
            conv = self._conv
            return self._bind("h", lambda value, t: conv.get_structure_hook(t)(value, t))
        return self._bind("h", self._conv.get_structure_hook(tp))

    def _generated(self, tp: Any) -> str | None:
        """The generated function the converter uses for ``tp`` (one argument suffices), if any."""
        if not attrs.has(tp) or tp in _generating:
            return None
        hook = self._conv.get_structure_hook(tp)  # generates it now if it is not yet
        return self._bind("g", hook) if self._fast.get(tp) is hook else None

    def _emit(self, indent: str, tp: Any) -> None:
        """Lines that turn the raw ``v`` into the decoded ``v`` for type ``tp``."""
        out = self._lines
        if tp is Any:
            return
        if _is_optional(tp):
            inner = next(arg for arg in typing.get_args(tp) if arg is not type(None))
            if inner is Any:
                return
            if inner in _SCALARS:
                t = self._bind("t", inner)
                out.append(f"{indent}if v is not None and type(v) is not {t}:")
                out.append(f"{indent}    v = {self._hook(inner)}(v, {t})")
                return
            out.append(f"{indent}if v is not None:")
            self._emit(indent + "    ", inner)
            return
        if tp in _SCALARS:
            t = self._bind("t", tp)
            out.append(f"{indent}if type(v) is not {t}:")
            out.append(f"{indent}    v = {self._hook(tp)}(v, {t})")
            return
        if isinstance(tp, type) and issubclass(tp, OpenEnum):
            t, members = self._bind("t", tp), self._bind("m", tp._value2member_map_)
            out.append(f"{indent}e = {members}.get(v) if type(v) is str else None")
            out.append(f"{indent}v = e if e is not None else {self._hook(tp)}(v, {t})")
            return
        t = self._bind("t", tp)
        if _is_variadic_tuple(tp):
            item = typing.get_args(tp)[0]
            out.append(f"{indent}if type(v) is list:")
            if item is Any:
                out.append(f"{indent}    v = tuple(v)")
            elif (one := self._generated(item)) is not None:
                out.append(f"{indent}    v = tuple(map({one}, v))")
            else:
                out.append(f"{indent}    v = tuple([{self._hook(item)}(x, {self._bind('t', item)}) for x in v])")
            out.append(f"{indent}else:")  # null, or not a list: the converter's tuple hook decides
            out.append(f"{indent}    v = {self._hook(tp)}(v, {t})")
            return
        one = self._generated(tp)
        if one is not None:
            out.append(f"{indent}v = {one}(v)")
            return
        out.append(f"{indent}v = {self._hook(tp)}(v, {t})")

    def generate(self, cls: type[Any], renames: Mapping[str, str]) -> Callable[..., Any]:
        fields = attrs.fields(cls)
        hints = typing.get_type_hints(cls)
        out = self._lines
        out.append("def structure(o, _=None):")
        if all(a.default is not attrs.NOTHING for a in fields):
            # A class with a required field fails on a non-object anyway (``o["id"]``).
            out.append("    if type(o) is not dict and not isinstance(o, Mapping):")
            out.append("        raise TypeError(f'expected an object, got {type(o).__name__}')")
        out.append(f"    obj = new({self._bind('c', cls)})")
        # By name and module: the SDK's own models only, not a user's class of the same name.
        interned = _INTERNED.get(cls.__name__, frozenset()) if cls.__module__.startswith("loop_async.") else frozenset()
        for a in fields:
            key = renames.get(a.name, a.name)
            tp = hints.get(a.name, Any)
            store = self._bind("s", getattr(cls, a.name).__set__)
            default = a.default
            if default is attrs.NOTHING:
                out.append(f"    v = o[{key!r}]")
                self._emit("    ", tp)
            elif (default is None and (tp is Any or _is_optional(tp))) or (default == () and _is_variadic_tuple(tp)):
                # Absent and null decode alike here (None, or an empty tuple): one lookup.
                out.append(f"    v = o.get({key!r})")
                self._emit("    ", tp)
            else:
                out.append(f"    v = o.get({key!r}, MISSING)")
                out.append("    if v is MISSING:")
                if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                    out.append(f"        v = {self._bind('f', default.factory)}()")
                else:
                    out.append(f"        v = {self._bind('d', default)}")
                out.append("    else:")
                self._emit("        ", tp)
                if out[-1] == "    else:":
                    out.append("        pass")
            if a.name in interned:
                out.append("    if type(v) is str:")
                out.append("        v = intern(v)")
            out.append(f"    {store}(obj, v)")
        out.append("    return obj")
        source = "\n".join(out)
        namespace = dict(self._names)
        exec(compile(source, f"<loop_async structure {cls.__qualname__}>", "exec"), namespace)
        function: Callable[..., Any] = namespace["structure"]
        function.__qualname__ = function.__name__ = f"fast_structure_{cls.__name__}"
        return function


def _generated_hook(
    cls: type[Any], conv: cattrs.Converter, fast: dict[type[Any], Callable[..., Any]], **renames: str
) -> Callable[..., Any] | None:
    """The generated structuring function of ``cls``, or ``None`` when the generator does not cover it."""
    if cls in fast:
        return fast[cls]
    if cls in _generating or not _can_generate(cls):
        return None
    _generating.add(cls)
    try:
        function = _Generator(conv, fast).generate(cls, renames)
    except (NameError, TypeError, AttributeError):  # unresolvable annotations: cattrs' own hook decides
        return None
    finally:
        _generating.discard(cls)
    fast[cls] = function
    return function


def _configure(conv: cattrs.Converter) -> cattrs.Converter:
    # Registered first, so the specific hooks registered below still win for their classes.
    # The hot path generates its own code per class; the detailed one keeps cattrs' (for its errors).
    fast: dict[type[Any], Callable[..., Any]] = {}

    def model_hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
        generated = None if conv.detailed_validation else _generated_hook(cls, conv, fast)
        return generated if generated is not None else _model_hook(cls, conv)

    conv.register_structure_hook_factory(attrs.has, model_hook)
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
    # Attributes the SDK adds to Loop's shapes (HAL-FORMS constraints, 2026-10 envelope keys):
    # left out when unset, so that a links[] payload re-encodes as Loop sent it.
    for cls, names in _SDK_ADDED_ATTRIBUTES.items():
        omitted: dict[str, Any] = {name: override(omit_if_default=True) for name in names}
        hook: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, conv, **omitted)
        conv.register_unstructure_hook(cls, hook)
    # Loop's paginated list uses camelCase for its page links.
    renames = {"next_page_url": "nextPageUrl", "previous_page_url": "previousPageUrl"}
    page_hook = None if conv.detailed_validation else _generated_hook(ReturnsPage, conv, {}, **renames)
    if page_hook is None:
        overrides = {name: override(rename=key) for name, key in renames.items()}
        page_hook = _objects_only(make_dict_structure_fn(ReturnsPage, conv, **overrides))  # type: ignore[arg-type]
    conv.register_structure_hook(ReturnsPage, page_hook)
    _configure_return_data_and_webhooks(conv)
    return conv


def _configure_return_data_and_webhooks(conv: cattrs.Converter) -> None:
    """Hooks for ASN rows (unlisted columns kept in ``extra``) and webhook events (``raw`` kept)."""

    def structure_loose_int(value: Any, _: Any) -> int:
        # Loop's webhook examples send ids both as numbers and as digit strings.
        if type(value) is str and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        return _structure_int(value, int)

    conv.register_structure_hook(LooseInt, structure_loose_int)
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

    for event_cls in {*EVENT_TYPES.values(), UnknownWebhookEvent} - {ReturnEvent, RestockEvent}:
        conv.register_structure_hook(event_cls, with_raw(event_cls))

    restock_base = with_raw(RestockEvent)

    def structure_restock_event(value: Any, tp: Any) -> Any:
        items = value.get("restock_items")
        if isinstance(items, Mapping):
            # An older reference page keys the items by Shopify order line item id.
            keyed = [
                {**item, "line_item_id": key} if isinstance(item, Mapping) else item for key, item in items.items()
            ]
            return attrs.evolve(restock_base({**value, "restock_items": keyed}, tp), raw=dict(value))
        return restock_base(value, tp)

    conv.register_structure_hook(RestockEvent, _objects_only(structure_restock_event))

    def structure_return_event(value: Any, _: Any) -> ReturnEvent:
        # The return's own fields sit at the top level, next to topic and trigger.
        return ReturnEvent(
            topic=conv.structure(value.get("topic"), WebhookTopic),
            trigger=conv.structure(value.get("trigger"), WebhookTrigger),
            return_=conv.structure(value, Return),
            shop_id=conv.structure(value.get("shop_id"), LooseInt | None),  # type: ignore[arg-type]
            edited_at=conv.structure(value.get("edited_at"), datetime | None),  # type: ignore[arg-type]
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
