"""Link formats: read a JSON response's links, fields and errors into generic :class:`Link` objects.

The facade of the formats: the protocols and shared helpers (:mod:`.base`), Loop's ``links[]``
(:mod:`.loop_links`), HAL-FORMS (:mod:`.hal_forms`) and the per-response choice between them
(:mod:`.negotiated`). A format names no rel and no state of any API.
"""

from __future__ import annotations

from loop_async.hypermedia.formats.base import (
    FORM_MEDIA_TYPE,
    FormatSelector,
    LinkFormat,
    QueryEncoder,
    StateReader,
    comma_query,
    encode_query,
    form_pairs,
    is_form,
    media_type,
    own_state,
    parse_error_entries,
    repeat_query,
)
from loop_async.hypermedia.formats.hal_forms import HAL_FORMS_MEDIA_TYPE, HalFormsFormat, option_value
from loop_async.hypermedia.formats.loop_links import LoopLinksFormat
from loop_async.hypermedia.formats.negotiated import NegotiatedFormat

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
