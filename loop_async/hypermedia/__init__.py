"""Generic hypermedia: links and fields, link formats, the navigator, drive and the recorder.

The public names of the navigator layer. Nothing here names a rel or a state of Loop's API: a
:class:`LinkFormat` reads the links of a response, a ``decode`` function builds the resource,
and the :class:`Navigator` follows links by rel, validating values against their ``fields``.
Helpers (query encoders, validation, remote options) are imported from their modules.
"""

from __future__ import annotations

from loop_async.errors import DriveLimitError
from loop_async.hypermedia.drive import Choose, DriveResult, Policy, Step, Stop, drive
from loop_async.hypermedia.formats import (
    FormatSelector,
    HalFormsFormat,
    LinkFormat,
    LoopLinksFormat,
    NegotiatedFormat,
    QueryEncoder,
)
from loop_async.hypermedia.linkset import LinkSet
from loop_async.hypermedia.navigator import Navigator, TransitionObserver
from loop_async.hypermedia.recorder import TransitionRecorder
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
    "drive",
]
