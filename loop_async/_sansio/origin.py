"""The one origin check: a link is followed only on the client's own origin (the key goes with it).

Pure code, no I/O: the transport resolves every URL it sends to (links, pages, redirects) here.
"""

from __future__ import annotations

from yarl import URL

from loop_async._response import EXCERPT_CHARS
from loop_async.errors import DecodeError, UnsafeLinkError

__all__ = ["resolve_link", "same_origin"]


def same_origin(url: URL, origin: URL) -> bool:
    """Whether ``url`` has the scheme, host and port of ``origin``."""
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def resolve_link(api_root: URL, origin: URL, href: str | URL) -> URL:
    """Resolve a link against the API root and refuse any URL off ``origin`` (the root's).

    A URL that cannot be parsed (a bad port, a broken IPv6 host) came from the server: it
    is a :class:`DecodeError`, and nothing is sent.
    """
    try:
        target = URL(href) if isinstance(href, str) else href
        if not target.is_absolute():
            target = api_root.join(target)
    except ValueError as exc:
        raise DecodeError(f"not a valid URL ({exc})", excerpt=str(href)[:EXCERPT_CHARS]) from None
    if target.user is not None or target.password is not None:
        raise UnsafeLinkError(target.with_user(None), origin, "a URL with user info")
    if not same_origin(target, origin):
        raise UnsafeLinkError(target, origin, "another origin would receive the API key")
    return target
