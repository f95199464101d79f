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
    """One input of a link: its name, type, allowed values and whether it is required."""

    name: str
    type: FieldType | None = None
    description: str | None = None
    allowed_values: tuple[Any, ...] | None = None
    is_required: bool = False


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

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or ``None``."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None
