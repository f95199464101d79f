"""The fake server's API keys and scopes: the scope names Loop's keys carry, and which grants which.

Pure data and one check; the middleware that applies them is :mod:`.middleware`.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ALL_SCOPES",
    "DEFAULT_API_KEY",
    "SCOPE_DEVELOPER_TOOLS",
    "SCOPE_DRAFT_RETURNS",
    "SCOPE_DRAFT_RETURNS_READ",
    "SCOPE_DRAFT_RETURNS_WRITE",
    "SCOPE_HAPPY_RETURNS",
    "SCOPE_ORDERS",
    "SCOPE_RETURNS",
    "grants",
]

SCOPE_RETURNS = "Returns"
SCOPE_ORDERS = "Orders"
SCOPE_DRAFT_RETURNS_READ = "Draft Returns (read)"
SCOPE_DRAFT_RETURNS_WRITE = "Draft Returns (write)"
#: Both draft-return scopes at once (the name this fake used before Loop split them).
SCOPE_DRAFT_RETURNS = "Draft Returns"
SCOPE_DEVELOPER_TOOLS = "Developer Tools"
SCOPE_HAPPY_RETURNS = "Happy Returns Shipments (Read)"
ALL_SCOPES: tuple[str, ...] = (
    SCOPE_RETURNS,
    SCOPE_ORDERS,
    SCOPE_DRAFT_RETURNS_READ,
    SCOPE_DRAFT_RETURNS_WRITE,
    SCOPE_DEVELOPER_TOOLS,
    SCOPE_HAPPY_RETURNS,
)
DEFAULT_API_KEY = "test-key"
# Scopes that grant others: the old single draft scope stands for both.
_SCOPE_GRANTS: Mapping[str, frozenset[str]] = {
    SCOPE_DRAFT_RETURNS: frozenset({SCOPE_DRAFT_RETURNS_READ, SCOPE_DRAFT_RETURNS_WRITE}),
}


def grants(scopes: frozenset[str], needed: str) -> bool:
    """Whether a key with ``scopes`` may call a route that needs ``needed``."""
    return needed in scopes or any(needed in _SCOPE_GRANTS.get(s, ()) for s in scopes)
