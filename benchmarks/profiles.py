"""``python -m benchmarks.profiles [typed|decode|memory]``: the profiles behind the missed targets.

- ``typed``: cProfile of 5,000 typed GETs (``loop.draft_returns.get``) at concurrency 64
  against the payload server (in its own process); the top functions by own time.
- ``decode``: cProfile of 5,000 decodes of the reference payload into ``DraftReturnResponse``.
- ``memory``: tracemalloc of 2,000 navigators held at once (as pending flows hold them),
  grouped into parsed JSON, decoded models, aiohttp buffers, asyncio and other, in KB per
  navigator.

Each profile is printed and written to ``results/profile-<name>.txt``.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import sys
import tracemalloc
from collections.abc import Callable

import orjson

from benchmarks.harness import run_batch
from benchmarks.report import RESULTS
from benchmarks.servers import PAYLOAD_PATH, serve


def _top(profiler: cProfile.Profile, limit: int = 30) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def profile_typed() -> str:
    """Own-time profile of the typed call (transport + decode + navigator)."""
    from loop_async import LoopClient

    async def main(url: str, api_key: str) -> str:
        async with LoopClient(api_key, base_url=url, rate_limit=None, max_concurrency=64) as loop:

            async def call() -> object:
                return (await loop.draft_returns.get(12345)).resource

            await run_batch(500, 64, call)
            profiler = cProfile.Profile()
            profiler.enable()
            await run_batch(5000, 64, call)
            profiler.disable()
            return _top(profiler)

    with serve("payload") as server:
        return asyncio.run(main(server.url, server.api_key))


def profile_decode() -> str:
    """Own-time profile of the model decode alone."""
    from loop_async.models import DraftReturnResponse
    from loop_async.models._convert import structure

    data = orjson.loads(PAYLOAD_PATH.read_bytes())
    for _ in range(200):
        structure(data, DraftReturnResponse)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5000):
        structure(data, DraftReturnResponse)
    profiler.disable()
    return _top(profiler)


def _category(filename: str) -> str:
    if "cattrs" in filename or "<attrs generated" in filename or "<loop_async structure" in filename:
        return "decoded models"
    if filename.endswith("_sansio/json.py"):
        return "parsed JSON (and the strings models share with it)"
    if "aiohttp" in filename:
        return "aiohttp (response body bytes, headers)"
    if "asyncio" in filename:
        return "asyncio"
    return "other"


def profile_memory(n: int = 2000) -> str:
    """Where a held draft navigator's memory goes (KB per navigator, by allocating module)."""
    from loop_async import LoopClient

    async def main(url: str, api_key: str, orders: list[tuple[str, str]]) -> str:
        async with LoopClient(api_key, base_url=url, rate_limit=None, max_concurrency=256) as loop:
            await loop.draft_returns.create(*orders[0])
            gc.collect()
            tracemalloc.start()
            navigators = await asyncio.gather(*(loop.draft_returns.create(*orders[i % len(orders)]) for i in range(n)))
            gc.collect()
            snapshot = tracemalloc.take_snapshot()
            total = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
        sizes: dict[str, int] = {}
        for stat in snapshot.statistics("filename"):
            key = _category(stat.traceback[0].filename)
            sizes[key] = sizes.get(key, 0) + stat.size
        lines = [
            f"{len(navigators)} draft navigators held: {total / 2**20:.1f} MiB traced, {total / n / 1024:.1f} KB each"
        ]
        lines += [f"  {size / n / 1024:6.2f} KB  {name}" for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])]
        return "\n".join(lines) + "\n"

    with serve("fake", orders=n) as server:
        return asyncio.run(main(server.url, server.api_key, server.info["orders"]))


PROFILES: dict[str, Callable[[], str]] = {"typed": profile_typed, "decode": profile_decode, "memory": profile_memory}


def main(argv: list[str]) -> int:
    """Run the named profiles (all by default); print and save each."""
    names = argv or list(PROFILES)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = PROFILES[name]()
        (RESULTS / f"profile-{name}.txt").write_text(text)
        print(f"== profile {name}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
