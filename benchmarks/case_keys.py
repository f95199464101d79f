"""Case 7: how many merchant keys one core drives at full rate, doing navigator steps.

``keys`` merchants through one :class:`~loop_async.bulk.pool.ClientPool` (one client and limiter per
key, ``keys_per_minute`` each, 4 in flight per key), each doing navigator steps on the
reference draft-return payload (``draft_returns.get`` then its links and required actions:
the step a draft-flow driver makes) against the payload server in its own process, for
``keys_seconds``. Measured: the total rate achieved against the total budget (utilisation) and
the client's CPU seconds per wall second (``client_cores``). ``keys_per_core`` = keys x
utilisation / client_cores: the number of keys one fully used core would drive at full rate
(the target, issue 14 point 5). The payload server answers every key (it checks none), so the
figure is the client's cost, not a server's business logic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.harness import CaseResult, Config, Target
from benchmarks.servers import serve
from loop_async import LoopClient

KEYS_TARGET = 500.0
DRAFT_ID = 12345


async def _drive(url: str, keys: int, per_minute: int, seconds: float) -> dict[str, Any]:
    from loop_async.bulk.pool import ClientPool

    per_key = max(2, round(per_minute * seconds / 60))
    merchants = {f"m{i}": f"bench-key-{i}" for i in range(keys)}
    done: list[float] = []
    async with ClientPool(merchants, rate_limit=per_minute, base_url=url, max_concurrency=4) as pool:

        async def step(loop: LoopClient, _: int) -> int:
            nav = await loop.draft_returns.get(DRAFT_ID)
            done.append(time.perf_counter())
            return len(nav.rels) + len(nav.required)

        cpu0, wall0 = time.process_time(), time.perf_counter()
        results = await pool.run_all({name: range(per_key) for name in merchants}, step, concurrency=4)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    failed = sum(1 for outcomes in results.values() for o in outcomes if o.error is not None)
    total, budget = per_key * keys, per_minute * keys
    # Each key's first request is free of the window: rate over the rest, first to last answer.
    achieved = (len(done) - keys) / (done[-1] - done[0]) * 60
    utilisation = achieved / budget
    cores = cpu / wall
    return {
        "keys": keys,
        "per_key_per_min": per_minute,
        "requests": total,
        "seconds": round(wall, 2),
        "achieved_per_min": round(achieved, 1),
        "utilisation": round(utilisation, 4),
        "failed": failed,
        "client_cpu_s_per_1k": round(cpu / total * 1000, 4),
        "client_cores": round(cores, 3),
        "keys_per_core": round(keys * min(utilisation, 1.0) / cores, 1),
    }


def run_keys(cfg: Config) -> CaseResult:
    """Many keys at full rate through one pool: utilisation, client cores, keys per core."""
    result = CaseResult(
        "keys",
        f"7. Keys per core ({cfg.keys} keys at {cfg.keys_per_minute}/min each, navigator steps, one ClientPool)",
        [
            "keys",
            "per_key_per_min",
            "requests",
            "seconds",
            "achieved_per_min",
            "utilisation",
            "failed",
            "client_cpu_s_per_1k",
            "client_cores",
            "keys_per_core",
        ],
    )
    with serve("payload") as server:
        server_cpu0 = server.cpu()
        row = asyncio.run(_drive(server.url, cfg.keys, cfg.keys_per_minute, cfg.keys_seconds))
        server_cores = (server.cpu() - server_cpu0) / row["seconds"]
    result.rows.append(row)
    result.targets.append(Target("keys per core at full rate", row["keys_per_core"], KEYS_TARGET, True))
    result.notes.append(
        f"{cfg.keys_seconds:g} s, {row['failed']} items failed; the payload server used {server_cores:.2f} cores "
        "(its own process). keys_per_core = keys x utilisation / client_cores: the CPU one key at full rate "
        "costs, as keys per core. On a shared machine the client gets only its share of a core, so the "
        "utilisation itself can fall below 1 while the client is starved of CPU, not slow."
    )
    return result
