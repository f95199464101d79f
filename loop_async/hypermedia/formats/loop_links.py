"""Loop's ``links[]`` format (API versions ``v1``/``2026-07``): each link carries its ``fields``.

Reads where the envelope keeps its links and errors; names no rel and no state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loop_async.hypermedia.formats.base import comma_query, envelope_state, expect_object, parse_error_entries
from loop_async.models._convert import structure
from loop_async.models.common import ApiErrorEntry
from loop_async.models.links import Link

__all__ = ["LoopLinksFormat"]


class LoopLinksFormat:
    """Loop's ``links[]`` array (``rel``, ``href``, ``method``, ``fields``, ``is_required``).

    A list in a query is joined with commas (``?id=1,2``), as Loop's endpoints expect.
    """

    def links(self, data: Any) -> tuple[Link, ...]:
        """Decode ``data["links"]`` (missing or ``null`` means no links: a terminal state)."""
        body = expect_object(data, "links[] response")
        return structure(body.get("links") or [], tuple[Link, ...], what="links[]")

    def links_of(self, resource: object, data: Any) -> tuple[Link, ...]:
        """The links of ``data``, taken from its decoded ``resource`` when that already holds them.

        A model of a ``links[]`` envelope decodes the same ``links`` key with the same
        converter: reusing them avoids decoding every link twice.
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
        return parse_error_entries(expect_object(data, "links[] response").get("errors"))

    def query(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Loop's style: a list of ids is one comma-separated parameter."""
        return comma_query(values)

    def own_state(self, data: Any) -> Any:
        """The envelope without ``context``, links and errors, and the resource without its derived ``totals``."""
        return envelope_state(data)

    def __repr__(self) -> str:
        return "LoopLinksFormat()"
