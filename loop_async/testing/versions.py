"""The API versions the fake server serves, and which link format a draft-return answer takes.

Every route is served under each of :data:`API_VERSIONS` alike, except for the format of
draft returns: HAL-FORMS (:data:`HAL_FORMS_CONTENT_TYPE`) on :data:`HAL_FORMS_VERSIONS`, or
when ``Accept`` asks for it; Loop's ``links[]`` otherwise.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

__all__ = ["API_VERSIONS", "HAL_FORMS_CONTENT_TYPE", "HAL_FORMS_VERSIONS", "api_root", "wants_hal_forms"]

#: ``latest`` is served like ``2026-07`` (Loop's "latest" reference pages show ``links[]``: a guess).
API_VERSIONS: tuple[str, ...] = ("v1", "latest", "2026-07", "2026-10", "unstable")
#: Versions whose draft returns always answer in HAL-FORMS (the others only when ``Accept`` asks).
HAL_FORMS_VERSIONS = frozenset({"2026-10", "unstable"})
HAL_FORMS_CONTENT_TYPE = "application/prs.hal-forms+json"


def api_root(request: web.Request) -> URL:
    """``{origin}/api/{version}`` of the request."""
    version = request.path.split("/")[2]
    return request.url.origin().with_path(f"/api/{version}")


def wants_hal_forms(request: web.Request) -> bool:
    """HAL-FORMS on 2026-10 and later whatever ``Accept`` says; before, when ``Accept`` names it."""
    if api_root(request).name in HAL_FORMS_VERSIONS:
        return True
    accepted = (part.split(";", 1)[0].strip().lower() for part in request.headers.get("Accept", "").split(","))
    return HAL_FORMS_CONTENT_TYPE in accepted
