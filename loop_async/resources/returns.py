"""``loop.returns``: one resource composed of the return actions and the return data.

Only the composition lives here; each half is a module of its own
(:mod:`~loop_async.resources.return_actions`, :mod:`~loop_async.resources.return_data`), usable
alone. Same concept as the ``loop-async returns`` command, at the resource layer.
"""

from __future__ import annotations

from loop_async.resources.return_actions import ReturnActions
from loop_async.resources.return_data import ReturnData

__all__ = ["ReturnsResource"]


class ReturnsResource(ReturnActions, ReturnData):
    """``loop.returns``: actions on existing returns (:class:`ReturnActions`) and reading them
    (:class:`ReturnData`).

    Mixins rather than delegation: every method keeps its one signature and docstring, where it
    is defined, instead of a copy here that could drift. Both halves take the same transport.
    """
