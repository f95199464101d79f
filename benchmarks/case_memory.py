"""Case 5: memory of 10,000 concurrent pending draft flows, the server slowed by a delay fault.

Each flow creates its draft, waits until every flow has one (so all navigators are alive at
once), then follows ``add-returning-item`` on a route the fake server delays by
``memory_delay`` seconds: 10,000 flows pending together, ``memory_concurrency`` of them on the
wire and the rest queued in the client. The client runs in a fresh process per measurement
(peak RSS is per process): once plain, for ``ru_maxrss``, and once under :mod:`tracemalloc`
(which costs memory of its own, so it is not mixed with the RSS figure). Reported: peak RSS,
its growth over the client's idle baseline (after imports and one warm-up flow), and the
tracemalloc peak; the target applies to the growth.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from benchmarks.harness import CaseResult, Config, Target
from benchmarks.servers import MP_CONTEXT, fake_server_available, serve

MEMORY_TARGET_MB = 80.0
DELAYED_ROUTE = "POST /api/v1/draft-returns/{draft_id}/returning-items"
CONCURRENCY = 500
MB = 1024 * 1024


def _peak_rss() -> int:
    """Peak RSS of this process in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


async def _pending_flows(
    url: str, api_key: str, orders: list[tuple[str, str]], n: int, concurrency: int, trace: bool
) -> dict[str, Any]:
    from loop_async import LoopClient

    async with LoopClient(
        api_key, base_url=url, rate_limit=None, max_concurrency=concurrency, timeout=300, max_retries=0
    ) as loop:
        # Warm-up: session, connections' code paths, converter hooks; then the baseline.
        warm = await loop.draft_returns.create(*orders[0])
        del warm
        gc.collect()
        if trace:
            tracemalloc.start()
        rss0 = _peak_rss()
        created = 0
        all_created = asyncio.Event()
        pending = max_pending = 0

        async def flow(i: int) -> int:
            nonlocal created, pending, max_pending
            nav = await loop.draft_returns.create(*orders[i % len(orders)])
            created += 1
            if created == n:
                all_created.set()
            await all_created.wait()
            line_item = nav.link("add-returning-item").fields[0].allowed_values[0]  # type: ignore[index]
            pending += 1
            max_pending = max(max_pending, pending)
            after = await nav.follow("add-returning-item", order_line_item_id=line_item)
            pending -= 1
            return len(after.resource.draft_return.returning_items)

        started = time.perf_counter()
        items = await asyncio.gather(*(flow(i) for i in range(n)))
        seconds = time.perf_counter() - started
        traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0
        if trace:
            tracemalloc.stop()
    return {
        "flows": n,
        "completed": sum(1 for count in items if count == 1),
        "max_pending": max_pending,
        "seconds": seconds,
        "baseline_rss": rss0,
        "peak_rss": _peak_rss(),
        "traced_peak": traced_peak,
    }


def client_process(url: str, api_key: str, orders: list[tuple[str, str]], n: int, trace: bool) -> dict[str, Any]:
    """Entry point in the fresh client process."""
    return asyncio.run(_pending_flows(url, api_key, orders, n, CONCURRENCY, trace))


def _in_fresh_process(*args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=MP_CONTEXT) as pool:
        return pool.submit(client_process, *args).result()


def run_memory(cfg: Config) -> CaseResult:
    """Peak RSS (growth over baseline) and tracemalloc peak for ``cfg.memory_flows`` pending flows."""
    result = CaseResult(
        "memory",
        f"5. Memory ({cfg.memory_flows:,} concurrent pending draft flows, server delay {cfg.memory_delay:g} s)",
        ["measure", "flows", "max_pending", "seconds", "baseline_rss_mb", "peak_rss_mb", "growth_mb", "kb_per_flow"],
    )
    missing = fake_server_available()
    if missing:
        result.skipped = missing
        return result
    with serve("fake", orders=min(cfg.memory_flows, 2000)) as server:
        server.call("inject", kind="delay", route=DELAYED_ROUTE, times=10**9, delay=cfg.memory_delay)
        orders = server.info["orders"]
        runs = {"peak RSS": _in_fresh_process(server.url, server.api_key, orders, cfg.memory_flows, False)}
        if cfg.memory_traced:
            runs["tracemalloc"] = _in_fresh_process(server.url, server.api_key, orders, cfg.memory_flows, True)
    for name, run in runs.items():
        if run["completed"] != run["flows"]:
            raise RuntimeError(f"{name}: {run['completed']} of {run['flows']} flows completed")
        growth = (run["peak_rss"] - run["baseline_rss"]) if name == "peak RSS" else run["traced_peak"]
        result.rows.append(
            {
                "measure": name,
                "flows": run["flows"],
                "max_pending": run["max_pending"],
                "seconds": round(run["seconds"], 1),
                "baseline_rss_mb": round(run["baseline_rss"] / MB, 1),
                "peak_rss_mb": round(run["peak_rss"] / MB, 1),
                "growth_mb": round(growth / MB, 1),
                "kb_per_flow": round(growth / run["flows"] / 1024, 2),
            }
        )
    # The target is for 10,000 flows (8 KB each); a smaller run is scaled to that count.
    scale = 10_000 / cfg.memory_flows
    for row in result.rows:
        what = "peak RSS growth" if row["measure"] == "peak RSS" else "tracemalloc peak"
        name = f"{what} (MB, per 10,000 flows)"
        result.targets.append(Target(name, round(row["growth_mb"] * scale, 1), MEMORY_TARGET_MB, False))
    result.notes.append(
        f"{CONCURRENCY} requests on the wire at most (the client's max_concurrency), the rest queued in the "
        "client; each flow holds its navigator (the body bytes and the decoded links; the draft itself is "
        "not decoded: draft_returns.create() reads the new draft's id from the answer's JSON). "
        "For the tracemalloc row, growth_mb is the tracemalloc peak (its baseline is 0: started after warm-up)."
    )
    return result
