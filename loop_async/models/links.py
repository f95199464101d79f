"""Hypermedia links and their field metadata, independent of any one link format.

Loop's ``links[]`` decode straight into these; other formats (HAL-FORMS) are turned into
them by an adapter in :mod:`loop_async.hypermedia`.
"""

from __future__ import annotations

from typing import Any

import attrs

from loop_async.models.enums import FieldType

__all__ = ["Field", "Link"]


@attrs.frozen(kw_only=True)
class Field:
    """One input of a link: its name, type, allowed values, whether it is required, its constraints.

    Loop's ``links[]`` fields carry the first five attributes. The others come from HAL-FORMS
    properties (https://rwcbook.github.io/hal-forms/) and are checked before sending:
    ``regex`` (the whole value must match), ``min``/``max`` and ``step`` (numbers),
    ``min_length``/``max_length`` (strings), ``read_only`` (only ``value`` may be sent),
    ``value`` (the default, sent when the caller gives none), ``min_items``/``max_items``
    (how many options a multi-select takes; ``multiple`` says a list of option values is
    accepted, as for HAL-FORMS options whose ``maxItems`` is not 1), ``options_link`` (the URL of remote options,
    fetched when the link is followed; ``allowed_values`` is ``None`` until then) with
    ``prompt_field``/``value_field`` (which key of an option object is its label and its value).
    """

    name: str
    type: FieldType | None = None
    description: str | None = None
    allowed_values: tuple[Any, ...] | None = None
    is_required: bool = False
    regex: str | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    read_only: bool = False
    value: Any = None
    min_items: int | None = None
    max_items: int | None = None
    options_link: str | None = None
    prompt_field: str | None = None
    value_field: str | None = None
    multiple: bool = False


@attrs.frozen(kw_only=True)
class Link:
    """An action available on a resource now: call ``href`` with ``method`` and ``fields``."""

    rel: str
    href: str
    method: str = "GET"
    description: str | None = None
    prompt: str | None = None
    fields: tuple[Field, ...] = ()
    is_required: bool = False
    content_type: str | None = None
    """How values travel in the body (HAL-FORMS ``contentType``); ``None`` means JSON."""

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or ``None``."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None
