"""Generic hypermedia: links and fields, link formats, the navigator, drive and the recorder.

Nothing here names a rel or a state of Loop's API: a :class:`LinkFormat` reads the links of
a response, a ``decode`` function builds the resource, and the :class:`Navigator` follows
links by rel, validating values against the links' ``fields`` first.
"""

from __future__ import annotations

from loop_async.hypermedia.drive import Choose, DriveLimitError, DriveResult, Policy, Step, Stop, drive
from loop_async.hypermedia.formats import (
    FormatSelector,
    HalFormsFormat,
    LinkFormat,
    LoopLinksFormat,
    NegotiatedFormat,
    QueryEncoder,
    comma_query,
    encode_query,
    parse_error_entries,
    repeat_query,
)
from loop_async.hypermedia.linkset import LinkSet
from loop_async.hypermedia.navigator import Navigator, TransitionObserver
from loop_async.hypermedia.options import parse_options, resolve_options
from loop_async.hypermedia.recorder import TransitionRecorder, generalise_rel
from loop_async.hypermedia.validation import check_value, check_values, validate_values
from loop_async.models.links import Field, Link

__all__ = [
    "Choose",
    "DriveLimitError",
    "DriveResult",
    "Field",
    "FormatSelector",
    "HalFormsFormat",
    "Link",
    "LinkFormat",
    "LinkSet",
    "LoopLinksFormat",
    "Navigator",
    "NegotiatedFormat",
    "Policy",
    "QueryEncoder",
    "Step",
    "Stop",
    "TransitionObserver",
    "TransitionRecorder",
    "check_value",
    "check_values",
    "comma_query",
    "drive",
    "encode_query",
    "generalise_rel",
    "parse_error_entries",
    "parse_options",
    "repeat_query",
    "resolve_options",
    "validate_values",
]
