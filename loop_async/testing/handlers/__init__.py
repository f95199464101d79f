"""The fake server's route handlers, one module per API area.

Each area is a class holding what its handlers need, with ``routes()`` giving
``(method, path template, scope, handler)``; :class:`~loop_async.testing.server.FakeLoopServer`
mounts them under every API version. Handlers never import the server.
"""

from __future__ import annotations

from loop_async.testing.handlers._request import Handler, Route

__all__ = ["Handler", "Route"]
