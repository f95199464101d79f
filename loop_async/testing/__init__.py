"""The embedded fake Loop server and its pytest plugin.

::

    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer() as server:
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            await loop.returns.process(server.seed_return())

The server speaks Loop's JSON with its own code: it never imports the SDK's client side or its
converter; :func:`open_fake_loop` (what the pytest plugin's factory fixture uses) pairs the two.
"""

from __future__ import annotations

from loop_async.testing.faults import FAULT_KINDS, Fault, FaultInjector
from loop_async.testing.fixtures import FakeLoop, FakeLoopFactory, open_fake_loop
from loop_async.testing.middleware import RequestRecord
from loop_async.testing.scopes import (
    ALL_SCOPES,
    SCOPE_DEVELOPER_TOOLS,
    SCOPE_DRAFT_RETURNS,
    SCOPE_DRAFT_RETURNS_READ,
    SCOPE_DRAFT_RETURNS_WRITE,
    SCOPE_HAPPY_RETURNS,
    SCOPE_ORDERS,
    SCOPE_RETURNS,
)
from loop_async.testing.server import FakeLoopServer
from loop_async.testing.versions import API_VERSIONS
from loop_async.testing.webhook_sender import SIGNATURE_HEADER, WebhookDelivery, sign

__all__ = [
    "ALL_SCOPES",
    "API_VERSIONS",
    "FAULT_KINDS",
    "SCOPE_DEVELOPER_TOOLS",
    "SCOPE_DRAFT_RETURNS",
    "SCOPE_DRAFT_RETURNS_READ",
    "SCOPE_DRAFT_RETURNS_WRITE",
    "SCOPE_HAPPY_RETURNS",
    "SCOPE_ORDERS",
    "SCOPE_RETURNS",
    "SIGNATURE_HEADER",
    "FakeLoop",
    "FakeLoopFactory",
    "FakeLoopServer",
    "Fault",
    "FaultInjector",
    "RequestRecord",
    "WebhookDelivery",
    "open_fake_loop",
    "sign",
]
