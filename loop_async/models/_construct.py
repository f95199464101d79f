"""Generated construction of the models: the fast converter's per-class structuring functions.

Each function fills a frozen instance's slots directly, exactly as ``__init__`` would, calling the
converter's hooks for whatever it does not convert inline; a class it does not cover gets ``None``
(cattrs' hook then). Mechanism only: hooks, renames and interned strings are configured in
:mod:`loop_async.models._convert`, the one converter. How and why: ``docs/performance.md``.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs

from loop_async.models._open_enum import OpenEnum

__all__ = ["Interned", "generated_hook", "is_optional", "is_variadic_tuple"]

#: Per model class name, the string attributes whose values are interned.
Interned = Mapping[str, frozenset[str]]


def is_optional(tp: Any) -> bool:
    """Whether ``tp`` is ``X | None`` (``Optional[X]``)."""
    args = typing.get_args(tp)
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args


def is_variadic_tuple(tp: Any) -> bool:
    """Whether ``tp`` is ``tuple[X, ...]``."""
    args = typing.get_args(tp)
    return typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis


_MISSING: Any = object()
_SCALARS = (int, str, bool)
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
    """Writes the structuring function of one attrs class (see the module docstring)."""

    def __init__(self, conv: cattrs.Converter, fast: dict[type[Any], Callable[..., Any]], interned: Interned) -> None:
        self._conv = conv
        self._fast = fast  # class -> generated function (callable with one argument)
        self._interned = interned
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
        if is_optional(tp):
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
        if is_variadic_tuple(tp):
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
        interned = (
            self._interned.get(cls.__name__, frozenset()) if cls.__module__.startswith("loop_async.") else frozenset()
        )
        for a in fields:
            key = renames.get(a.name, a.name)
            tp = hints.get(a.name, Any)
            store = self._bind("s", getattr(cls, a.name).__set__)
            default = a.default
            if default is attrs.NOTHING:
                out.append(f"    v = o[{key!r}]")
                self._emit("    ", tp)
            elif (default is None and (tp is Any or is_optional(tp))) or (default == () and is_variadic_tuple(tp)):
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


def generated_hook(
    cls: type[Any],
    conv: cattrs.Converter,
    fast: dict[type[Any], Callable[..., Any]],
    *,
    interned: Interned,
    renames: Mapping[str, str] | None = None,
) -> Callable[..., Any] | None:
    """The generated structuring function of ``cls``, or ``None`` when the generator does not cover it.

    ``conv`` supplies the hook of every value not converted inline; ``fast`` holds the functions
    generated so far for ``conv`` (and receives this one); ``interned`` names, per model class,
    the string attributes to intern; ``renames`` maps an attribute to its JSON key.
    """
    if cls in fast:
        return fast[cls]
    if cls in _generating or not _can_generate(cls):
        return None
    _generating.add(cls)
    try:
        function = _Generator(conv, fast, interned).generate(cls, renames or {})
    except (NameError, TypeError, AttributeError):  # unresolvable annotations: cattrs' own hook decides
        return None
    finally:
        _generating.discard(cls)
    fast[cls] = function
    return function
