"""The negotiated format: each response is read in the format it came in (a :class:`FormatSelector`).

Chooses between two :class:`LinkFormat` objects by the response's shape and content type;
reads no links itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loop_async.errors import DecodeError
from loop_async.hypermedia.formats.base import LinkFormat, media_type, own_state
from loop_async.hypermedia.formats.hal_forms import HAL_FORMS_MEDIA_TYPE, HalFormsFormat
from loop_async.hypermedia.formats.loop_links import LoopLinksFormat
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link

__all__ = ["NegotiatedFormat"]


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
