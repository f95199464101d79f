"""Values for a draft-return link, chosen from its field metadata and the draft's context only.

What a generic client would do: it knows no rel, only the fields Loop describes. Shared by the
tests that drive drafts to a given state.
"""

from __future__ import annotations

from typing import Any

from loop_async.hypermedia import Link, Navigator
from loop_async.models import DraftReturnResponse


def easy_reason(nav: Navigator[DraftReturnResponse]) -> int:
    """A return reason that needs no comment, read from the draft's context."""
    assert nav.resource.context is not None
    return next(r.id for r in nav.resource.context.return_reasons if not r.requires_comment)


def values_from_metadata(nav: Navigator[DraftReturnResponse], link: Link) -> dict[str, Any]:
    """A value for every required field: the first allowed value, an easy reason, an email."""
    values: dict[str, Any] = {}
    for field in link.fields:
        if not field.is_required:
            continue
        if field.name == "return_reason_id":
            values[field.name] = easy_reason(nav)
        elif field.allowed_values:
            values[field.name] = field.allowed_values[0]
        elif "email" in field.name:
            values[field.name] = "jane@example.com"
    return values
