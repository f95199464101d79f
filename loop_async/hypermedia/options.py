"""Remote options of HAL-FORMS properties (``options.link``), fetched when a link is followed.

Each options URL goes through the transport's origin check before any is read (off-origin:
:class:`~loop_async.errors.UnsafeLinkError`, nothing sent), then is read with one GET. The
shapes of the answer it reads: ``docs/draft-returns.md`` ("Validation rules").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from loop_async._transport import Transport
from loop_async.errors import DecodeError
from loop_async.hypermedia.formats.hal_forms import option_value
from loop_async.models.links import Field, Link

__all__ = ["parse_options", "resolve_options"]


def parse_options(data: Any, value_field: str | None = None) -> tuple[Any, ...]:
    """The option values of a remote-options answer (see the module doc)."""
    raw = data
    if isinstance(raw, Mapping):
        embedded = raw.get("_embedded")
        if "options" in raw:
            raw = raw["options"]
        elif "inline" in raw:
            raw = raw["inline"]
        elif isinstance(embedded, Mapping) and len(embedded) == 1:
            raw = next(iter(embedded.values()))
    if not isinstance(raw, list):
        raise DecodeError(f"remote options: expected a JSON array of options, got {type(data).__name__}")
    return tuple(option_value(option, value_field) for option in raw)


async def _fetch(transport: Transport, field: Field) -> Field:
    assert field.options_link is not None
    url = transport.resolve(field.options_link)  # off-origin: UnsafeLinkError, nothing sent
    response = await transport.request("GET", url)
    return attrs.evolve(field, allowed_values=parse_options(response.data, field.value_field))


async def resolve_options(transport: Transport, link: Link) -> Link:
    """``link`` with the remote options of its fields fetched (``link`` itself when there are none).

    Every URL is checked before any is read; the GETs then run one after another.
    """
    remote = [field for field in link.fields if field.options_link is not None and field.allowed_values is None]
    if not remote:
        return link
    for field in remote:
        assert field.options_link is not None
        transport.resolve(field.options_link)
    fields = [
        await _fetch(transport, field) if field.options_link is not None and field.allowed_values is None else field
        for field in link.fields
    ]
    return attrs.evolve(link, fields=tuple(fields))
