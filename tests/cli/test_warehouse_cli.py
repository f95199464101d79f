"""``loop-async orders eligibility`` and ``loop-async bulk assess`` against the fake server.

The commands run in a worker thread (they start their own event loop); the fake server runs
on the test's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loop_async._cli.bulk import assess as bulk_assess
from loop_async._cli.main import build_parser
from loop_async._cli.orders import run_eligibility
from loop_async.testing import FakeLoopServer

ASSESS = "POST /api/v1/dispositioning/assess"


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=40) as srv:
        monkeypatch.setenv("LOOP_API_KEY", srv.api_key)
        yield srv


def line_items(server: FakeLoopServer, count: int) -> list[int]:
    ids: list[int] = []
    for order in server.orders:
        return_id = server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
        ids += [item.line_item.id for item in server.returns[return_id].line_items]
        if len(ids) >= count:
            break
    return ids[:count]


def parse_bulk(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(["bulk", "assess", *argv])


async def assess(server: FakeLoopServer, *argv: str) -> int:
    args = parse_bulk([*argv, "--base-url", str(server.url), "--rate", "0", "--progress", "plain"])
    return await asyncio.to_thread(bulk_assess.handle, args)


def outcomes(path: Path) -> list[dict[str, object]]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a torn line
    return [r for r in records if r["status"] != "pending"]


# -- orders eligibility --------------------------------------------------------------------


async def test_orders_eligibility_prints_one_line_per_item(server: FakeLoopServer) -> None:
    order = server.orders[0]
    args = build_parser().parse_args(["orders", "eligibility", order.name, "--base-url", str(server.url)])
    out, err = io.StringIO(), io.StringIO()
    assert await run_eligibility(args, out, err) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [li.id for li in order.line_items]
    assert [r["eligible"] for r in rows] == [li.ineligibility_code is None for li in order.line_items]
    assert {r["order_name"] for r in rows} == {order.name}

    table = build_parser().parse_args(["orders", "eligibility", order.name, "--format", "table",
                                       "--base-url", str(server.url)])  # fmt: skip
    out = io.StringIO()
    assert await run_eligibility(table, out, err) == 0
    assert "final_sale" in out.getvalue()

    missing = build_parser().parse_args(["orders", "eligibility", "#999999", "--base-url", str(server.url)])
    assert await run_eligibility(missing, io.StringIO(), err) == 1
    assert "ORDER_NOT_FOUND" in err.getvalue() or "not found" in err.getvalue().lower()


# -- bulk assess ---------------------------------------------------------------------------


async def test_bulk_assess_batches_of_30_resume_and_retry_failed(server: FakeLoopServer, tmp_path: Path) -> None:
    ids = line_items(server, 95)
    source = tmp_path / "rows.csv"
    source.write_text(
        "line_item,outcome,processor,note\n" + "".join(f"{i},back_to_stock,wh@example.com,row {i}\n" for i in ids)
    )
    output = tmp_path / "out.jsonl"
    server.faults.inject("status", route="POST /dispositioning/assess", status=422)
    assert await assess(server, "--input", str(source), "--output", str(output)) == 1
    first = outcomes(output)
    assert [r["status"] for r in first] == ["failed"] * 30 + ["ok"] * 65
    assert [r["batch"] for r in first][::30] == [1, 2, 3, 4]
    assert server.request_counts[ASSESS] == 4

    # A plain re-run has nothing to do; --retry-failed sends only the failed batch again.
    assert await assess(server, "--input", str(source), "--output", str(output)) == 1
    assert server.request_counts[ASSESS] == 4
    assert await assess(server, "--input", str(source), "--output", str(output), "--retry-failed") == 0
    assert server.request_counts[ASSESS] == 5
    assert [r["status"] for r in outcomes(output)[95:]] == ["ok"] * 30
    applied = {key[1]: n for key, n in server.side_effects.items() if key[0] == "assess"}
    assert applied == dict.fromkeys(ids, 1)  # every item assessed exactly once


async def test_bulk_assess_refuses_bad_rows_before_sending(
    server: FakeLoopServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "rows.jsonl"
    source.write_text(
        '{"line_item_id": 74, "outcome": "donate"}\n'
        '{"line_item_id": 75, "outcome": "refurbish"}\n'
        '{"line_item_id": 76, "outcome": "donate", "inspected_at": "yesterday"}\n'
        "[1]\n"
    )
    assert await assess(server, "--input", str(source), "--output", str(tmp_path / "o.jsonl")) == 2
    err = capsys.readouterr().err
    assert "line 2: outcome" in err and "line 3: inspected_at" in err and "line 4: must be a JSON object" in err
    assert sum(server.request_counts.values()) == 0
    assert not (tmp_path / "o.jsonl").exists()


async def test_a_row_left_pending_by_a_dead_run_is_unknown_and_not_redone(
    server: FakeLoopServer, tmp_path: Path
) -> None:
    ids = line_items(server, 2)
    source = tmp_path / "rows.csv"
    source.write_text("line_item_id,outcome\n" + "".join(f"{i},recycle\n" for i in ids))
    output = tmp_path / "out.jsonl"
    dead = {"action": "assess", "line": 2, "line_item_id": ids[0], "outcome": "recycle", "status": "pending"}
    output.write_text(json.dumps(dead) + "\n" + '{"action": "assess", "li')  # and a torn last line
    assert await assess(server, "--input", str(source), "--output", str(output)) == 1
    assert [(r["line_item_id"], r["status"]) for r in outcomes(output)] == [(ids[0], "unknown"), (ids[1], "ok")]
    assert ("assess", ids[0]) not in server.side_effects  # the uncertain row was not re-sent


async def test_bulk_assess_dry_run_sends_nothing(
    server: FakeLoopServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "rows.csv"
    source.write_text("line_item_id,outcome\n" + "".join(f"{i},donate\n" for i in range(1, 62)))
    assert await assess(server, "--input", str(source), "--dry-run") == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 61
    assert "in 3 batches" in captured.err
    assert sum(server.request_counts.values()) == 0


# -- bulk assess as a subprocess: interrupted and killed runs resume without repeating -------


async def start_cli(
    children: list[asyncio.subprocess.Process], server: FakeLoopServer, *args: str
) -> asyncio.subprocess.Process:
    env = {**os.environ, "LOOP_API_KEY": server.api_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loop_async", "bulk", "assess", *args, "--base-url", str(server.url), "--rate", "0",
        "--progress", "plain", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    children.append(proc)
    return proc


async def wait_for_line(proc: asyncio.subprocess.Process, text: bytes) -> None:
    assert proc.stderr is not None
    while text not in (line := await asyncio.wait_for(proc.stderr.readline(), 30)):
        assert line, f"the CLI ended without printing {text!r}"


def write_rows(tmp_path: Path, ids: list[int]) -> Path:
    source = tmp_path / "rows.csv"
    source.write_text("line_item_id,outcome\n" + "".join(f"{i},resale_hold\n" for i in ids))
    return source


async def test_sigint_stops_after_the_batch_in_flight_and_a_rerun_finishes(
    server: FakeLoopServer, tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    ids = line_items(server, 95)
    source, output = write_rows(tmp_path, ids), tmp_path / "out.jsonl"
    server.faults.inject("delay", route="POST /dispositioning/assess", delay=0.0)
    server.faults.inject("delay", route="POST /dispositioning/assess", delay=0.5, times=1000)
    first = await start_cli(children, server, "-i", str(source), "-o", str(output))
    await wait_for_line(first, b"batch 2/4: sending")
    first.send_signal(signal.SIGINT)
    _, err = await first.communicate()
    assert first.returncode == 130, err.decode()
    done = outcomes(output)
    assert [r["status"] for r in done] == ["ok"] * len(done) and len(done) == 60  # batch 2 finished, not 3
    server.faults.clear()
    second = await start_cli(children, server, "-i", str(source), "-o", str(output))
    _, err = await second.communicate()
    assert second.returncode == 0, err.decode()
    assert sorted(r["line_item_id"] for r in outcomes(output)) == sorted(ids)
    assert server.request_counts[ASSESS] == 4
    assert {key[1]: n for key, n in server.side_effects.items() if key[0] == "assess"} == dict.fromkeys(ids, 1)


async def test_a_killed_run_leaves_its_batch_unknown_and_never_resends_it(
    server: FakeLoopServer, tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    ids = line_items(server, 95)
    source, output = write_rows(tmp_path, ids), tmp_path / "out.jsonl"
    server.faults.inject("delay", route="POST /dispositioning/assess", delay=0.0)
    server.faults.inject("delay", route="POST /dispositioning/assess", delay=0.5, times=1000)
    first = await start_cli(children, server, "-i", str(source), "-o", str(output))
    await wait_for_line(first, b"batch 2/4: sending")
    first.kill()  # SIGKILL: no handler, no last line
    await first.communicate()
    server.faults.clear()
    second = await start_cli(children, server, "-i", str(source), "-o", str(output))
    _, err = await second.communicate()
    assert second.returncode == 1, err.decode()  # the killed batch is unknown: a person checks it
    by_item = {r["line_item_id"]: r["status"] for r in outcomes(output)}
    assert sorted(by_item) == sorted(ids)  # one final outcome per row
    assert {i for i, status in by_item.items() if status == "unknown"} == set(ids[30:60])
    assert all(by_item[i] == "ok" for i in ids[:30] + ids[60:])
    assert all(server.side_effects[("assess", i)] <= 1 for i in ids)  # nothing assessed twice
    assert all(server.side_effects[("assess", i)] == 1 for i in ids[:30] + ids[60:])
