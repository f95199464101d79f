"""The logging switch: ``LOOP_LOG=debug`` (or ``info``) turns the SDK's logging on without code.

Called once when :mod:`loop_async` is imported. It adds a handler to the ``loop_async`` logger
only when the variable asks for it and nobody configured that logger already; otherwise the
application's own logging configuration decides, as usual.
"""

from __future__ import annotations

import logging
import os

__all__ = ["LOG_ENV", "setup_from_env"]

LOG_ENV = "LOOP_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO}


def setup_from_env() -> None:
    """Log ``loop_async`` records to stderr at the level ``LOOP_LOG`` names (``debug`` or ``info``)."""
    level = _LEVELS.get(os.environ.get(LOG_ENV, "").strip().lower())
    logger = logging.getLogger("loop_async")
    if level is None or logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
