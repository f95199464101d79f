"""Link-format adapters: turn a JSON response into generic :class:`Link` objects.

A format knows only where a response keeps its links, their fields and its errors; it knows
nothing of any state machine. Two ship with the SDK:

- :class:`LoopLinksFormat`: Loop's ``links[]`` (``rel``, ``href``, ``method``, ``fields``,
  ``is_required``), as served by API versions ``v1``/``2026-07``;
- :class:`HalFormsFormat`: HAL-FORMS (``_links`` keyed by rel, ``_templates`` with ``method``,
  ``title``, ``contentType``, ``properties``), as served from ``2026-10`` (and on ``2026-07``
  when the client asks for it in ``Accept``).

:class:`NegotiatedFormat` picks one of the two per response, from its content type and its
shape (a :class:`FormatSelector`). Write another format by implementing the three methods of
:class:`LinkFormat`.

**Lists in a query.** How a GET/DELETE link's values go into the query is the format's
choice: a format may implement :class:`QueryEncoder` (one ``query`` method); otherwise
:func:`repeat_query` is used, which repeats the parameter for each element of a list
(``?id=1&id=2``). :class:`LoopLinksFormat` joins a list with commas (``?id=1,2``), as Loop's
endpoints expect. Booleans become ``true``/``false``.

**Content type.** Values travel as JSON unless the link's ``content_type`` (a HAL-FORMS
template's ``contentType``) is ``application/x-www-form-urlencoded``: then they are sent as a
form body (a list repeats its name, booleans are ``true``/``false``, objects are refused).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from loop_async.errors import DecodeError, FieldProblem, FieldValidationError
from loop_async.models._convert import structure
from loop_async.models.common import ApiErrorEntry
from loop_async.models.enums import FieldType
from loop_async.models.links import Field, Link

__all__ = [
    "FORM_MEDIA_TYPE",
    "HAL_FORMS_MEDIA_TYPE",
    "FormatSelector",
    "HalFormsFormat",
    "LinkFormat",
    "LoopLinksFormat",
    "NegotiatedFormat",
    "QueryEncoder",
    "StateReader",
    "comma_query",
    "encode_query",
    "form_pairs",
    "is_form",
    "media_type",
    "option_value",
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


def own_state(format: LinkFormat, data: Any) -> Any:
    """``format.own_state(data)`` when the format has one, else the whole ``data``."""
    return format.own_state(data) if isinstance(format, StateReader) else data


# Loop's draft envelope: `context` is the shop's catalog and the order, which change with no
# action (stock, prices); `totals` inside the draft are derived from those prices.
_VOLATILE_KEYS = frozenset({"context", "errors", "links", "_links", "_templates", "_embedded", "client_application"})
_DERIVED_KEYS = frozenset({"totals"})


def _envelope_state(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    return {
        key: ({k: v for k, v in value.items() if k not in _DERIVED_KEYS} if isinstance(value, Mapping) else value)
        for key, value in data.items()
        if key not in _VOLATILE_KEYS
    }


@runtime_checkable
class QueryEncoder(Protocol):
    """Optional for a :class:`LinkFormat`: how values go into the query of a GET/DELETE link."""

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The query parameters, in order, for JSON-ready ``values``."""
        ...


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


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def is_form(content_type: str | None) -> bool:
    """Whether a link's content type asks for a form body (``application/x-www-form-urlencoded``)."""
    return media_type(content_type) == FORM_MEDIA_TYPE


def form_pairs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """JSON-ready ``values`` as form fields: a list repeats its name; an object cannot be a form field.

    Raises :class:`~loop_async.errors.FieldValidationError` naming every object-valued field
    (nothing is sent).
    """
    bad = [
        FieldProblem(name, "is an object: a form body takes text, numbers, booleans or lists of them")
        for name, value in values.items()
        if isinstance(value, Mapping)
        or (isinstance(value, list | tuple) and any(isinstance(v, Mapping | list | tuple) for v in value))
    ]
    if bad:
        raise FieldValidationError(bad, action="form body")
    return repeat_query(values)


def encode_query(fmt: LinkFormat, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``values`` as query parameters, the way ``fmt`` wants them (:func:`repeat_query` by default)."""
    if isinstance(fmt, QueryEncoder):
        return fmt.query(values)
    return repeat_query(values)


def _object(data: Any, what: str) -> Mapping[str, Any]:
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


class LoopLinksFormat:
    """Loop's ``links[]`` array, each link carrying its ``fields`` metadata."""

    def links(self, data: Any) -> tuple[Link, ...]:
        """Decode ``data["links"]`` (missing or ``null`` means no links: a terminal state)."""
        body = _object(data, "links[] response")
        return structure(body.get("links") or [], tuple[Link, ...], what="links[]")

    def links_of(self, resource: object, data: Any) -> tuple[Link, ...]:
        """The links of ``data``, taken from its decoded ``resource`` when that already holds them.

        A model of a ``links[]`` envelope (``DraftReturnResponse``) decodes the same ``links``
        key with the same converter: reusing them avoids decoding every link twice.
        """
        carried = getattr(resource, "links", None)
        if (
            type(self).links is LoopLinksFormat.links  # a subclass that reads links its own way decides
            and isinstance(carried, tuple)
            and isinstance(data, Mapping)
            and len(carried) == len(data.get("links") or ())  # the same links, not a filtered set
            and all(isinstance(link, Link) for link in carried)
        ):
            return carried
        return self.links(data)

    def self_href(self, data: Any) -> str | None:
        """Loop's ``links[]`` carry no self link: the resource layer supplies the URL."""
        return None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """The envelope's ``errors[]``."""
        return parse_error_entries(_object(data, "links[] response").get("errors"))

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Loop's style: a list of ids is one comma-separated parameter."""
        return comma_query(values)

    def own_state(self, data: Any) -> Any:
        """The envelope without ``context``, links and errors, and the draft without its derived ``totals``."""
        return _envelope_state(data)

    def __repr__(self) -> str:
        return "LoopLinksFormat()"


# HAL-FORMS property types are HTML input types: number-like ones are JSON numbers, checkbox a
# bool; every other type (and an unknown or missing one) is text, as the spec says.
_HAL_NUMBER_TYPES = frozenset({"number", "range"})
_HAL_BOOL_TYPES = frozenset({"checkbox"})
HAL_FORMS_MEDIA_TYPE = "application/prs.hal-forms+json"


class HalFormsFormat:
    """HAL-FORMS (https://rwcbook.github.io/hal-forms/): ``_links`` keyed by rel, ``_templates`` keyed by rel.

    Each template becomes a :class:`Link` whose ``href`` is the template's ``target`` (the
    spec's form), else the ``_links`` entry of the same rel (Loop's form, from ``2026-10``),
    else ``self``. ``contentType`` becomes :attr:`Link.content_type` (a form-urlencoded
    template is sent as a form body). Its ``properties`` become fields with every constraint
    of the spec (``required``, ``regex``, ``min``, ``max``, ``step``, ``minLength``,
    ``maxLength``, ``readOnly``, ``value``, ``options`` with ``inline`` or ``link``,
    ``minItems``, ``maxItems``, ``selectedValues``, ``promptField``, ``valueField``); see
    :class:`~loop_async.models.links.Field`. HAL-FORMS has no "required action" flag: a
    template-level ``"required": true`` (an extension) sets ``Link.is_required``. Plain
    ``_links`` other than ``self`` and ``curies`` become GET links without fields.
    """

    _RESERVED = frozenset({"self", "curies"})

    def links(self, data: Any) -> tuple[Link, ...]:
        """Templates first (the actions), then the plain navigational links."""
        body = _object(data, "HAL-FORMS response")
        raw_links = body.get("_links") or {}
        raw_templates = body.get("_templates") or {}
        if not isinstance(raw_links, Mapping) or not isinstance(raw_templates, Mapping):
            raise DecodeError("HAL-FORMS response: _links and _templates must be JSON objects")
        self_href = self.self_href(body)
        result: list[Link] = []
        for rel, template in raw_templates.items():
            tpl = _object(template, f"HAL-FORMS template {rel!r}")
            href = tpl.get("target") or _href(raw_links.get(rel)) or self_href
            if not isinstance(href, str):
                raise DecodeError(f"HAL-FORMS template {rel!r}: no target, no _links entry and no self link")
            title = tpl.get("title")
            content_type = tpl.get("contentType")
            result.append(
                Link(
                    rel=str(rel),
                    href=href,
                    method=str(tpl.get("method") or "GET").upper(),
                    description=None if title is None else str(title),
                    prompt=None if title is None else str(title),
                    fields=tuple(_hal_field(rel, prop) for prop in tpl.get("properties") or ()),
                    is_required=tpl.get("required") is True,
                    content_type=content_type if isinstance(content_type, str) and content_type else None,
                )
            )
        for rel, raw in raw_links.items():
            if rel in self._RESERVED or rel in raw_templates:
                continue
            href = _href(raw)
            if href is not None:
                result.append(Link(rel=str(rel), href=href, method="GET"))
        return tuple(result)

    def self_href(self, data: Any) -> str | None:
        """``_links.self.href``."""
        raw_links = _object(data, "HAL-FORMS response").get("_links")
        return _href(raw_links.get("self")) if isinstance(raw_links, Mapping) else None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """Top-level ``errors`` (as Loop's envelope), else ``_embedded.errors``."""
        body = _object(data, "HAL-FORMS response")
        raw = body.get("errors")
        if raw is None and isinstance(body.get("_embedded"), Mapping):
            raw = body["_embedded"].get("errors")
        return parse_error_entries(raw)

    def own_state(self, data: Any) -> Any:
        """The envelope without links, templates, ``_embedded``, ``context`` and errors, nor derived ``totals``."""
        return _envelope_state(data)

    def __repr__(self) -> str:
        return "HalFormsFormat()"


def media_type(content_type: str | None) -> str | None:
    """The media type of a ``Content-Type`` value, lower-cased, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


@runtime_checkable
class FormatSelector(Protocol):
    """Optional for a :class:`LinkFormat`: pick the concrete format of one response."""

    def for_response(self, data: Any, content_type: str | None) -> LinkFormat:
        """The format that reads ``data``, served with ``content_type`` (``None`` when unknown)."""
        ...


class NegotiatedFormat:
    """Reads each response in the format it came in: the server decides, not a list of versions.

    The shape decides: HAL-FORMS when the body has ``_links`` or ``_templates``, Loop's
    ``links[]`` when it has ``links``; a body with both is read as its content type says
    (``application/prs.hal-forms+json`` or HAL's ``application/hal+json``: HAL-FORMS). A body
    with none of them is a :class:`DecodeError`, whatever its content type: it would otherwise
    look like a terminal state with no links. A navigator asks :meth:`for_response` once per
    response and follows with that format.
    """

    def __init__(self, hal_forms: LinkFormat | None = None, links: LinkFormat | None = None) -> None:
        self.hal_forms: LinkFormat = hal_forms or HalFormsFormat()
        self.links_format: LinkFormat = links or LoopLinksFormat()

    def for_response(self, data: Any, content_type: str | None) -> LinkFormat:
        """The format of ``data`` (see the class doc)."""
        said_hal = media_type(content_type) in (HAL_FORMS_MEDIA_TYPE, "application/hal+json")
        if isinstance(data, Mapping):
            hal_shape = "_links" in data or "_templates" in data
            if hal_shape and "links" in data:
                return self.hal_forms if said_hal else self.links_format
            if hal_shape:
                return self.hal_forms
            if "links" in data:
                return self.links_format
        kind = f"keys {sorted(data)[:8]}" if isinstance(data, Mapping) else type(data).__name__
        served = f" (served as {media_type(content_type)})" if content_type else ""
        raise DecodeError(f"no links in a known format (links[] or HAL-FORMS _links/_templates){served}: {kind}")

    def links(self, data: Any) -> tuple[Link, ...]:
        """The links of ``data``, in the format its shape shows."""
        return self.for_response(data, None).links(data)

    def self_href(self, data: Any) -> str | None:
        """The self link of ``data``, in the format its shape shows."""
        return self.for_response(data, None).self_href(data)

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """The errors of ``data``, in the format its shape shows."""
        return self.for_response(data, None).errors(data)

    def own_state(self, data: Any) -> Any:
        """The resource's own state of ``data``, as the format its shape shows reads it."""
        return own_state(self.for_response(data, None), data)

    def __repr__(self) -> str:
        return f"NegotiatedFormat({self.hal_forms!r}, {self.links_format!r})"


def _href(raw: Any) -> str | None:
    if isinstance(raw, list):  # a rel may hold several link objects: take the first
        raw = raw[0] if raw else None
    if isinstance(raw, Mapping) and isinstance(raw.get("href"), str):
        return str(raw["href"])
    return None


def _number(value: Any) -> float | None:
    # Bounds of non-number types (a date's "2026-01-01") are not checked client-side.
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 and number == int(number) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


_URI_TEMPLATE_EXPRESSION = re.compile(r"\{[^}]*\}")


def _hal_field(rel: str, raw: Any) -> Field:
    prop = _object(raw, f"HAL-FORMS property of {rel!r}")
    name = prop.get("name")
    if not isinstance(name, str) or not name:
        raise DecodeError(f"HAL-FORMS template {rel!r}: a property has no name")
    raw_type = prop.get("type")
    html_type = raw_type.strip().lower() if isinstance(raw_type, str) else "text"
    kind = "number" if html_type in _HAL_NUMBER_TYPES else "bool" if html_type in _HAL_BOOL_TYPES else "string"
    allowed: tuple[Any, ...] | None = None
    options_link = prompt_field = value_field = None
    min_items = max_items = None
    multiple = False
    selected: Any = None
    options = prop.get("options")
    if isinstance(options, Mapping):
        prompt_field, value_field = _text(options.get("promptField")), _text(options.get("valueField"))
        min_items, max_items = _count(options.get("minItems")), _count(options.get("maxItems"))
        if isinstance(options.get("inline"), list):
            allowed = tuple(option_value(option, value_field) for option in options["inline"])
        link = options.get("link")
        if allowed is None and isinstance(link, Mapping) and isinstance(link.get("href"), str):
            href = link["href"]
            # A templated link is fetched with its variables left out (the SDK fills in none).
            options_link = _URI_TEMPLATE_EXPRESSION.sub("", href) if link.get("templated") is True else href
        if allowed is not None or options_link is not None:
            kind = "enum"  # the options say what is valid, whatever the input type
            multiple = max_items != 1  # the spec: no maxItems (or 0) means no upper limit
            if isinstance(options.get("selectedValues"), list) and options["selectedValues"]:
                values = list(options["selectedValues"])
                selected = values if multiple else values[0]
    value = prop.get("value")
    if prop.get("templated") is True:
        value = None  # a URI Template, not a value to send
    elif value is None:
        value = selected
    regex = prop.get("regex")
    prompt = prop.get("prompt")
    return Field(
        name=name,
        type=FieldType(kind),
        description=None if prompt is None else str(prompt),
        allowed_values=allowed,
        is_required=prop.get("required") is True,
        regex=regex if isinstance(regex, str) and regex else None,
        min=_number(prop.get("min")),
        max=_number(prop.get("max")),
        step=_number(prop.get("step")) or None,  # a step of 0 means none
        min_length=_count(prop.get("minLength")),
        max_length=_count(prop.get("maxLength")),
        read_only=prop.get("readOnly") is True,
        value=value,
        min_items=min_items,
        max_items=max_items or None,  # 0 means no upper limit
        options_link=options_link,
        prompt_field=prompt_field,
        value_field=value_field,
        multiple=multiple,
    )


def option_value(option: Any, value_field: str | None = None) -> Any:
    """The value of one HAL-FORMS option: a plain value, or the ``valueField`` (``value``) of an object."""
    key = value_field or "value"
    if isinstance(option, Mapping):
        if key in option:
            return option[key]
        if "value" in option:
            return option["value"]
    return option
