"""Case 4: how much of a key's rate budget the SDK's limiter actually spends, without a 429.

**One key.** The fake server enforces ``rate_per_minute`` per key (a sliding 60-second window,
``Retry-After`` on 429) and one :class:`LoopClient` with the same ``rate_limit`` sends exactly
``rate_per_minute * seconds / 60`` GETs (a note list) from 8 workers. Achieved rate = the
inter-arrival rate of the answers, ``(answers - 1) / (last - first)`` (``answers - keys`` with
several keys: each key's first request is free); utilisation = achieved / limit. 429s are
counted by the server (the client would retry them, hiding them).

**Many keys.** ``many_keys`` merchants at once through one :class:`~loop_async.bulk.pool.ClientPool`
(one client and limiter per key) against a server with the same per-key limit: total achieved
rate against the total budget, and the client's CPU (seconds per wall second and per 1,000
requests). The server's own CPU is reported too: when it is near one core, the server, not
the SDK, is what caps the total.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.harness import CaseResult, Config, Target
from benchmarks.servers import ServerProcess, fake_server_available, serve
from loop_async import LoopClient

UTILISATION_TARGET = 0.97
SETUP_KEY = "bench-setup-key"


async def _one_key(server: ServerProcess, per_minute: int, seconds: float, return_id: int) -> dict[str, Any]:
    n = max(2, round(per_minute * seconds / 60))
    async with LoopClient(server.api_key, base_url=server.url, rate_limit=per_minute, max_concurrency=8) as loop:
        remaining = n

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await loop.returns.list_notes(return_id)
                done.append(time.perf_counter())

        done: list[float] = []
        server_cpu0 = server.cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(8)))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        server_cpu = server.cpu() - server_cpu0
        throttled = loop.rate_limiter.state.throttled if loop.rate_limiter is not None else 0  # type: ignore[attr-defined]
    achieved = (n - 1) / (done[-1] - done[0]) * 60
    return {
        "scenario": "1 key",
        "limit_per_min": per_minute,
        "requests": n,
        "seconds": round(wall, 2),
        "achieved_per_min": round(achieved, 1),
        "utilisation": round(achieved / per_minute, 4),
        "client_429s": throttled,
        "client_cpu_s_per_1k": round(cpu / n * 1000, 4),
        "client_cores": round(cpu / wall, 3),
        "server_cores": round(server_cpu / wall, 3),
    }


async def _many_keys(server: ServerProcess, keys: list[str], per_minute: int, seconds: float) -> dict[str, Any]:
    from loop_async.bulk.pool import ClientPool

    per_key = max(2, round(per_minute * seconds / 60))
    return_id = server.call("seed", count=1)[0]
    merchants = {f"m{i}": key for i, key in enumerate(keys)}
    async with ClientPool(merchants, rate_limit=per_minute, base_url=server.url, max_concurrency=4) as pool:

        async def notes(loop: LoopClient, _: int) -> Any:
            notes = await loop.returns.list_notes(return_id)
            done.append(time.perf_counter())
            return notes

        done: list[float] = []
        server_cpu0 = server.cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await pool.run_all({name: range(per_key) for name in merchants}, notes, concurrency=4)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        server_cpu = server.cpu() - server_cpu0
    failed = sum(1 for outcomes in results.values() for o in outcomes if o.error is not None)
    total = per_key * len(keys)
    budget = per_minute * len(keys)
    achieved = (len(done) - len(keys)) / (done[-1] - done[0]) * 60
    return {
        "scenario": f"{len(keys)} keys",
        "limit_per_min": budget,
        "requests": total,
        "seconds": round(wall, 2),
        "achieved_per_min": round(achieved, 1),
        "utilisation": round(achieved / budget, 4),
        "failed": failed,
        "client_cpu_s_per_1k": round(cpu / total * 1000, 4),
        "client_cores": round(cpu / wall, 3),
        "server_cores": round(server_cpu / wall, 3),
    }


def run_ratelimit(cfg: Config) -> CaseResult:
    """One key at its limit (utilisation, 429s), then many keys at once (total rate, client CPU)."""
    result = CaseResult(
        "ratelimit",
        "4. Rate-limit utilisation (fake server enforcing the same per-key limit)",
        [
            "scenario",
            "limit_per_min",
            "requests",
            "seconds",
            "achieved_per_min",
            "utilisation",
            "server_429s",
            "client_cpu_s_per_1k",
            "client_cores",
            "server_cores",
        ],
    )
    missing = fake_server_available()
    if missing:
        result.skipped = missing
        return result
    from loop_async.testing import ALL_SCOPES

    keys = {"test-key": ALL_SCOPES, SETUP_KEY: ALL_SCOPES}
    with serve("fake", api_keys=keys, rate_limit_per_minute=cfg.rate_per_minute, rate_limit_retry_after=True) as server:
        return_id = server.call("seed", count=1)[0]
        asyncio.run(_add_note(server, return_id))  # with the setup key: the measured key's window stays empty
        server.call("clear_log")
        row = asyncio.run(_one_key(server, cfg.rate_per_minute, cfg.rate_seconds, return_id))
        row["server_429s"] = server.call("statuses").get(429, 0)
        result.rows.append(row)
    result.targets.append(Target("utilisation, 1 key", row["utilisation"], UTILISATION_TARGET, True))
    result.targets.append(Target("429s, 1 key", row["server_429s"], 0, False))

    many = [f"bench-key-{i}" for i in range(cfg.many_keys)]
    with serve(
        "fake",
        api_keys=dict.fromkeys(many, ALL_SCOPES),
        rate_limit_per_minute=cfg.many_keys_per_minute,
        rate_limit_retry_after=True,
    ) as server:
        server.call("clear_log")
        row = asyncio.run(_many_keys(server, many, cfg.many_keys_per_minute, cfg.many_keys_seconds))
        row["server_429s"] = server.call("statuses").get(429, 0)
        result.rows.append(row)
    result.notes.append(
        f"1 key: {cfg.rate_per_minute}/min for {cfg.rate_seconds:g} s, count-bounded "
        f"({result.rows[0]['requests']} requests). {cfg.many_keys} keys: {cfg.many_keys_per_minute}/min each for "
        f"{cfg.many_keys_seconds:g} s through one ClientPool (4 in flight per key); "
        f"{row['failed']} items failed. client_cores / server_cores = CPU seconds per wall second."
    )
    return result


async def _add_note(server: ServerProcess, return_id: int) -> None:
    """One note, so that listing notes answers 200 (Loop answers 422 for a return without notes)."""
    async with LoopClient(SETUP_KEY, base_url=server.url, rate_limit=None) as loop:
        await loop.returns.create_note(return_id, "benchmark")
