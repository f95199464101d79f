"""Fixtures of the command-line tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def children() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """CLI subprocesses started by a test; killed and reaped if a failed assertion left one running."""
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()
