"""HAL-FORMS (https://rwcbook.github.io/hal-forms/): ``_links`` and ``_templates`` keyed by rel.

Served by Loop from ``2026-10`` (and on ``2026-07`` when the client asks for it in ``Accept``).
Turns templates and their properties into :class:`Link` and :class:`Field` objects with every
constraint of the spec; names no rel and no state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loop_async.errors import DecodeError
from loop_async.hypermedia.formats.base import envelope_state, expect_object, parse_error_entries
from loop_async.models.common import ApiErrorEntry
from loop_async.models.enums import FieldType
from loop_async.models.links import Field, Link

__all__ = ["HAL_FORMS_MEDIA_TYPE", "HalFormsFormat", "option_value"]

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
        body = expect_object(data, "HAL-FORMS response")
        raw_links = body.get("_links") or {}
        raw_templates = body.get("_templates") or {}
        if not isinstance(raw_links, Mapping) or not isinstance(raw_templates, Mapping):
            raise DecodeError("HAL-FORMS response: _links and _templates must be JSON objects")
        self_href = self.self_href(body)
        result: list[Link] = []
        for rel, template in raw_templates.items():
            tpl = expect_object(template, f"HAL-FORMS template {rel!r}")
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
        raw_links = expect_object(data, "HAL-FORMS response").get("_links")
        return _href(raw_links.get("self")) if isinstance(raw_links, Mapping) else None

    def errors(self, data: Any) -> tuple[ApiErrorEntry, ...]:
        """Top-level ``errors`` (as Loop's envelope), else ``_embedded.errors``."""
        body = expect_object(data, "HAL-FORMS response")
        raw = body.get("errors")
        if raw is None and isinstance(body.get("_embedded"), Mapping):
            raw = body["_embedded"].get("errors")
        return parse_error_entries(raw)

    def own_state(self, data: Any) -> Any:
        """The envelope without links, templates, ``_embedded``, ``context`` and errors, nor derived ``totals``."""
        return envelope_state(data)

    def __repr__(self) -> str:
        return "HalFormsFormat()"


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
    prop = expect_object(raw, f"HAL-FORMS property of {rel!r}")
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
