"""Cases 1 (transport overhead, navigator step, typed read) and 6 (scaling): the SDK against raw aiohttp.

The same N GETs of the reference draft-return payload, from the payload server in another
process, through these clients:

- ``aiohttp+json``: a bare ``aiohttp.ClientSession`` + ``json.loads`` (the baseline);
- ``aiohttp+orjson``: the same with ``orjson.loads``;
- ``aiohttp+json+walk``: the baseline, then every value of the parsed JSON read (the plain-JSON
  twin of the typed read; for information, the targets use the baseline above);
- ``LoopClient.request``: the SDK's transport alone (auth header, retry policy, error-body
  check, orjson parse), no models (target 6: nothing regresses);
- ``navigator step``: ``loop.draft_returns.get(id)``, then the links and required actions read,
  the resource not touched (target 1);
- ``typed read``: the same, then every field of the decoded ``DraftReturnResponse`` read, down
  to the last nested ``Money`` (target 2).

Rate limiter off. Variants are interleaved within each repetition (the order rotates) so that
noise from other tenants of the machine falls on all of them alike; each ratio is taken per
repetition against the baseline of the same repetition, and tables show the median and the
spread (min to max) of those paired ratios.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import attrs
import orjson

from benchmarks.harness import Batch, CaseResult, Config, Target, median, paired_ratios, run_batch, spread, summarise
from benchmarks.servers import serve
from loop_async import LoopClient

DRAFT_ID = 12345
VARIANTS = (
    "aiohttp+json",
    "aiohttp+orjson",
    "aiohttp+json+walk",
    "LoopClient.request",
    "navigator step",
    "typed read",
)
BASELINE = "aiohttp+json"
#: variant -> (target name, limit): the issue's targets 1, 2 and 6 (transport part).
TARGETS = {
    "navigator step": ("navigator step / aiohttp+json", 0.90),
    "typed read": ("typed read / aiohttp+json", 0.80),
    "LoopClient.request": ("transport / aiohttp+json", 0.95),
}

Call = Callable[[], Awaitable[Any]]


@asynccontextmanager
async def clients(url: str, api_key: str, concurrency: int) -> AsyncIterator[dict[str, Call]]:
    """One ready-to-call coroutine factory per variant, sharing nothing between variants."""
    target = f"{url}/api/v1/draft-returns/{DRAFT_ID}"
    headers = {"X-Authorization": api_key, "Accept": "application/json"}
    async with AsyncExitStack() as stack:

        def raw(loads: Callable[[bytes], Any]) -> Call:
            connector = aiohttp.TCPConnector(limit=concurrency)
            session = aiohttp.ClientSession(connector=connector)
            stack.push_async_callback(session.close)

            async def call() -> Any:
                async with session.get(target, headers=headers) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"HTTP {resp.status}")
                return loads(body)

            return call

        loop = await stack.enter_async_context(
            LoopClient(api_key, base_url=url, rate_limit=None, max_concurrency=concurrency)
        )

        url_of_draft = loop._transport.url("draft-returns", DRAFT_ID)

        async def untyped() -> Any:
            return (await loop.request("GET", url_of_draft)).data

        async def step() -> Any:
            nav = await loop.draft_returns.get(DRAFT_ID)
            return nav.rels, nav.required

        async def typed() -> Any:
            nav = await loop.draft_returns.get(DRAFT_ID)
            return touch(nav.resource), nav.rels

        raw_json = raw(json.loads)

        async def raw_walk() -> Any:
            return walk(await raw_json())

        yield {
            "aiohttp+json": raw_json,
            "aiohttp+orjson": raw(orjson.loads),
            "aiohttp+json+walk": raw_walk,
            "LoopClient.request": untyped,
            "navigator step": step,
            "typed read": typed,
        }


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}  # model class -> its field names; () for any other type


def _names(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls)) if attrs.has(cls) else ()
    return names


def touch(value: Any) -> int:
    """Read every field of a model, depth first (what a caller using all of it does); count them."""
    count = 0
    known = _FIELD_NAMES
    for name in known.get(type(value)) or _names(type(value)):
        item = getattr(value, name)
        count += 1
        kind = type(item)
        if kind is tuple:
            for element in item:
                if known.get(type(element), True):
                    count += touch(element)
        elif known.get(kind, True):  # a model (or a type not seen yet: touch() learns it)
            count += touch(item)
    return count


def walk(value: Any) -> int:
    """Read every value of parsed JSON (the baseline's twin of :func:`touch`)."""
    count = 0
    if type(value) is dict:
        for item in value.values():
            count += 1 + walk(item)
    elif type(value) is list:
        for item in value:
            count += walk(item)
    return count


async def measure(
    url: str, api_key: str, n: int, concurrency: int, reps: int, variants: tuple[str, ...] = VARIANTS
) -> dict[str, list[Batch]]:
    """Warm up each variant, then ``reps`` interleaved batches of ``n`` requests each."""
    async with clients(url, api_key, concurrency) as all_calls:
        calls = {name: all_calls[name] for name in variants}
        for call in calls.values():
            await run_batch(min(n, 200), concurrency, call)  # warm-up: connections, caches
        batches: dict[str, list[Batch]] = {name: [] for name in calls}
        names = list(calls)
        for rep in range(reps):
            # Rotate the order so no variant always runs first (or right after another's garbage).
            for name in names[rep % len(names) :] + names[: rep % len(names)]:
                batches[name].append(await run_batch(n, concurrency, calls[name]))
        return batches


def _rows(batches: dict[str, list[Batch]], extra: dict[str, Any]) -> list[dict[str, Any]]:
    base = summarise(batches[BASELINE])
    rows = []
    for name, runs in batches.items():
        s = summarise(runs)
        ratios = paired_ratios(runs, batches[BASELINE])
        rows.append(
            {
                **extra,
                "client": name,
                "req_per_s": round(s["per_s"], 1),
                "cpu_s_per_1k": round(s["cpu_per_1k"], 4),
                "ratio_vs_baseline": round(median(ratios), 3),
                "ratio_spread": spread(ratios),
                "cpu_ratio_vs_baseline": round(s["cpu_per_1k"] / base["cpu_per_1k"], 3),
            }
        )
    return rows


def run_overhead(cfg: Config) -> CaseResult:
    """Case 1: requests/s and client CPU per 1k requests at each concurrency; paired ratios vs raw aiohttp."""
    result = CaseResult(
        "transport",
        "1. Transport, navigator step and typed read (GET draft return, rate limiter off)",
        [
            "concurrency",
            "client",
            "req_per_s",
            "cpu_s_per_1k",
            "ratio_vs_baseline",
            "ratio_spread",
            "cpu_ratio_vs_baseline",
        ],
    )
    with serve("payload") as server:
        for concurrency in cfg.concurrencies:
            batches = asyncio.run(measure(server.url, server.api_key, cfg.overhead_n, concurrency, cfg.reps))
            rows = _rows(batches, {"concurrency": concurrency})
            result.rows.extend(rows)
            by_client = {r["client"]: r for r in rows}
            for variant, (name, limit) in TARGETS.items():
                result.targets.append(
                    Target(f"{name}, c={concurrency}", by_client[variant]["ratio_vs_baseline"], limit, True)
                )
    result.notes.append(
        f"N={cfg.overhead_n} requests per batch, {cfg.reps} interleaved repetitions after a warm-up; "
        "ratio = median of the per-repetition ratios (spread: min to max). The server runs in its own "
        "process; CPU is the client process's only."
    )
    return result


def run_scaling(cfg: Config) -> CaseResult:
    """Case 6: the overhead case at growing N; per-request cost should stay flat (linear total)."""
    result = CaseResult(
        "scaling",
        f"6. Scaling (overhead case at concurrency {cfg.scaling_concurrency})",
        ["n", "client", "req_per_s", "us_per_req", "cpu_s_per_1k", "ratio_vs_baseline", "cpu_vs_smallest_n"],
    )
    first_cpu: dict[str, float] = {}
    with serve("payload") as server:
        for n in cfg.scaling_ns:
            # Fewer repetitions of the longest batches keep the full run within its budget.
            reps = cfg.reps if n <= 10_000 else max(1, min(cfg.reps, 2))
            batches = asyncio.run(
                measure(server.url, server.api_key, n, cfg.scaling_concurrency, reps, (BASELINE, "typed read"))
            )
            for row in _rows(batches, {"n": n}):
                first_cpu.setdefault(row["client"], row["cpu_s_per_1k"])
                row["us_per_req"] = round(1e6 / row["req_per_s"], 1)
                row["cpu_vs_smallest_n"] = round(row["cpu_s_per_1k"] / first_cpu[row["client"]], 3)
                result.rows.append(row)
    sdk = [r for r in result.rows if r["client"] == "typed read"]
    growth = median([r["cpu_vs_smallest_n"] for r in sdk[1:]]) if len(sdk) > 1 else 1.0
    result.notes.append(
        "Linear cost means CPU per 1k requests stays flat as N grows (cpu_vs_smallest_n near 1). "
        f"The typed read's median CPU/1k at larger N is {growth:.2f}x its value at N={cfg.scaling_ns[0]}."
    )
    return result
