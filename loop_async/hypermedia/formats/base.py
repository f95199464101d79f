"""What a link format is (the protocols) and the helpers every format shares.

A format knows where a response keeps its links, their fields and its errors; it knows
nothing of any state machine. The helpers here encode values for a query or a form body and
read an ``errors`` value; they are the same for every format. The concrete formats live in the
sibling modules (:mod:`.loop_links`, :mod:`.hal_forms`, :mod:`.negotiated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from yarl import URL

from loop_async._sansio.problems import Problems
from loop_async.errors import DecodeError
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link

__all__ = [
    "FORM_MEDIA_TYPE",
    "FormatSelector",
    "LinkFormat",
    "QueryEncoder",
    "StateReader",
    "comma_query",
    "encode_query",
    "encode_request",
    "envelope_state",
    "expect_object",
    "form_pairs",
    "is_form",
    "is_selector",
    "media_type",
    "own_state",
    "parse_error_entries",
    "repeat_query",
]


@runtime_checkable
class LinkFormat(Protocol):
    """How one hypermedia format stores links, the resource's own URL and errors."""

    def links(self, data: Any) -> tuple[Link, ...]:
        """The actions available in ``data``, in server order."""
        ...

    def self_href(self, data: Any) -> str | None:
        """The URL that re-reads this resource, when the format carries one."""
        ...

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """The errors of a partial failure (empty when there are none)."""
        ...


@runtime_checkable
class StateReader(Protocol):
    """Optional for a :class:`LinkFormat`: the part of a response that is the resource's own state.

    Reconciliation (did an uncertain action take effect?) compares only this part, so that
    data that changes on its own (prices, stock) is never taken for the action's effect.
    Without it, the whole response counts.
    """

    def own_state(self, data: Any) -> Any:
        """A comparable value: equal for two responses exactly when the resource did not change."""
        ...


@runtime_checkable
class QueryEncoder(Protocol):
    """Optional for a :class:`LinkFormat`: how values go into the query of a GET/DELETE link.

    Without it, :func:`repeat_query` is used (``?id=1&id=2``).
    """

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The query parameters, in order, for JSON-ready ``values``."""
        ...


@runtime_checkable
class FormatSelector(Protocol):
    """Optional for a :class:`LinkFormat`: pick the concrete format of one response."""

    def for_response(self, data: Any, content_type: str | None) -> LinkFormat:
        """The format that reads ``data``, served with ``content_type`` (``None`` when unknown)."""
        ...


def own_state(format: LinkFormat, data: Any) -> Any:
    """``format.own_state(data)`` when the format has one, else the whole ``data``."""
    return format.own_state(data) if isinstance(format, StateReader) else data


# Loop's envelope, as both of its formats serve it: `context` is the shop's catalog and the
# order, which change with no action (stock, prices); `totals` inside the resource are derived
# from those prices.
_VOLATILE_KEYS = frozenset({"context", "errors", "links", "_links", "_templates", "_embedded", "client_application"})
_DERIVED_KEYS = frozenset({"totals"})


def envelope_state(data: Any) -> Any:
    """The envelope without its volatile keys (links, errors, ``context``) and derived ``totals``."""
    if not isinstance(data, Mapping):
        return data
    return {
        key: ({k: v for k, v in value.items() if k not in _DERIVED_KEYS} if isinstance(value, Mapping) else value)
        for key, value in data.items()
        if key not in _VOLATILE_KEYS
    }


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def repeat_query(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The default: one parameter per value, a list repeating its name (``id=1&id=2``)."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else (value,)
        pairs.extend((name, _scalar(item)) for item in items)
    return pairs


def comma_query(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One parameter per name, a list joined with commas (``id=1,2``)."""
    return [
        (name, ",".join(_scalar(v) for v in value) if isinstance(value, list | tuple) else _scalar(value))
        for name, value in values.items()
    ]


def encode_query(fmt: LinkFormat, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``values`` as query parameters, the way ``fmt`` wants them (:func:`repeat_query` by default)."""
    if isinstance(fmt, QueryEncoder):
        return fmt.query(values)
    return repeat_query(values)


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def media_type(content_type: str | None) -> str | None:
    """The media type of a ``Content-Type`` value, lower-cased, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def is_form(content_type: str | None) -> bool:
    """Whether a link's content type asks for a form body (``application/x-www-form-urlencoded``)."""
    return media_type(content_type) == FORM_MEDIA_TYPE


def form_pairs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """JSON-ready ``values`` as form fields: a list repeats its name; an object cannot be a form field.

    Raises :class:`~loop_async.errors.FieldValidationError` naming every object-valued field
    (nothing is sent).
    """
    problems = Problems("form body")
    for name, value in values.items():
        if isinstance(value, Mapping) or (
            isinstance(value, list | tuple) and any(isinstance(v, Mapping | list | tuple) for v in value)
        ):
            problems.add(name, "is an object: a form body takes text, numbers, booleans or lists of them")
    problems.raise_if_any()
    return repeat_query(values)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def encode_request(
    fmt: LinkFormat, method: str, content_type: str | None, url: URL, values: Mapping[str, Any]
) -> tuple[URL, dict[str, Any]]:
    """Where JSON-ready ``values`` travel: the URL and the body arguments of the request.

    A JSON body for POST/PUT/PATCH (a form body when ``content_type`` is
    ``application/x-www-form-urlencoded``: :func:`form_pairs`); the query for any other method,
    encoded as ``fmt`` wants (:func:`encode_query`).
    """
    if method in _BODY_METHODS and is_form(content_type):
        return url, {"form": form_pairs(values)}
    if method in _BODY_METHODS:
        return url, {"json": values}
    pairs = encode_query(fmt, values)
    return (url.update_query(pairs) if pairs else url), {}  # pairs: a repeated name stays repeated


_SELECTS: dict[type[Any], bool] = {}


def is_selector(fmt: LinkFormat) -> bool:
    """Whether ``fmt`` is a :class:`FormatSelector`, once per class (a runtime Protocol check costs ~10 µs)."""
    known = _SELECTS.get(type(fmt))
    if known is None:
        known = _SELECTS[type(fmt)] = isinstance(fmt, FormatSelector)
    return known


def expect_object(data: Any, what: str) -> Mapping[str, Any]:
    """``data`` when it is a JSON object, else :class:`~loop_async.errors.DecodeError` naming ``what``."""
    if not isinstance(data, Mapping):
        raise DecodeError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def parse_error_entries(raw: Any) -> tuple[ApiErrorEntry, ...]:
    """Read an ``errors`` value leniently: a list of objects or strings, or one object."""
    if raw is None or raw == [] or raw == {}:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    entries: list[ApiErrorEntry] = []
    for item in items:
        if isinstance(item, str):
            entries.append(ApiErrorEntry(code=item))  # Loop documents errors[] as "an array of error codes"
        elif isinstance(item, Mapping):
            code, message, field = item.get("code"), item.get("message"), item.get("field")
            entries.append(
                ApiErrorEntry(
                    code=None if code is None else str(code),
                    message=None if message is None else str(message),
                    field=None if field is None else str(field),
                )
            )
        else:
            entries.append(ApiErrorEntry(message=str(item)))
    return tuple(entries)
