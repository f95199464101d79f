"""Kept for ``pytest_plugins = ["loop_async.testing.pytest_plugin"]``: the plugin is :mod:`loop_async_pytest`.

The installed plugin (entry point ``pytest11``) is the top-level module ``loop_async_pytest``,
which imports nothing of the SDK until a fixture is used; there is no need to list it.
"""

from __future__ import annotations

from loop_async_pytest import fake_loop_server, loop_client, make_fake_loop

__all__ = ["fake_loop_server", "loop_client", "make_fake_loop"]
