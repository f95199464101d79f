"""The warehouse walk-through (``examples/warehouse_walkthrough.py``) runs against the fake server."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from loop_async.models import DispositionOutcome, ReturnState
from loop_async.models.webhook_events import WebhookTrigger
from loop_async.testing import FakeLoopServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "warehouse_walkthrough.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("warehouse_walkthrough", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_receive_grade_assess_process_closed() -> None:
    example = load_example()
    async with FakeLoopServer() as server:
        outcome = await example.walkthrough(server)
        await server.wait_idle()
    line_items = outcome["line_items"]
    assert len(line_items) == 3
    assert outcome["graded"] == outcome["assessed"] == line_items
    assert outcome["closed_event"].trigger is WebhookTrigger.RETURN_CLOSED
    assert outcome["closed_event"].return_.id == outcome["return_id"]
    final = outcome["final"]
    assert final.state is ReturnState.CLOSED
    assert {item.disposition_outcome for item in final.line_items} == {DispositionOutcome.BACK_TO_STOCK}


async def test_the_example_runs_as_a_script() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"return.closed received; state closed" in out
