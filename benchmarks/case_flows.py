"""Case 3: whole draft-return flows through the navigator, against the fake server.

A flow is ``create`` then :func:`loop_async.hypermedia.drive` with a generic policy (values
from each required link's ``fields``: the first allowed value, a reason that needs no
comment) until the draft is submitted: 7 requests. The baseline drives the same flow with raw
aiohttp + orjson over the JSON dicts (first required link, same values), so the ratio is the
SDK's cost (validation, decode into models, navigator, writer lock) on a real state machine.

The fake server's own time is separated out as its CPU seconds (read from its process
before and after each batch): ``server_ms_per_flow``. Each flow uses its own seeded order,
so no flow waits on another's items.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from benchmarks.harness import CaseResult, Config, median
from benchmarks.servers import ServerProcess, fake_server_available, serve
from loop_async import LoopClient
from loop_async.hypermedia import Navigator, drive
from loop_async.models import DraftReturnResponse, Link

REQUESTS_PER_FLOW = 7  # create, add item, reason, finalize, credit type, return method, submit (server-counted)
Flow = Callable[[str, str], Awaitable[None]]


def policy(nav: Navigator[DraftReturnResponse], link: Link) -> dict[str, Any]:
    """Values from the link's field metadata and the draft's context (no rel names)."""
    values: dict[str, Any] = {}
    context = nav.resource.context
    for f in link.fields:
        if not f.is_required:
            continue
        if f.name == "return_reason_id" and context is not None:
            values[f.name] = next(r.id for r in context.return_reasons if not r.requires_comment)
        elif f.allowed_values:
            values[f.name] = f.allowed_values[0]
    return values


def raw_values(data: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
    """The same policy over plain JSON."""
    values: dict[str, Any] = {}
    for f in link.get("fields") or ():
        if not f.get("is_required"):
            continue
        if f["name"] == "return_reason_id":
            values[f["name"]] = next(
                r["id"] for r in data["context"]["return_reasons"] if not r.get("requires_comment")
            )
        elif f.get("allowed_values"):
            values[f["name"]] = f["allowed_values"][0]
    return values


@asynccontextmanager
async def flows(url: str, api_key: str, concurrency: int) -> AsyncIterator[dict[str, Flow]]:
    """The two ways of running one flow: the SDK's navigator and raw aiohttp."""
    api = f"{url}/api/v1"
    headers = {"X-Authorization": api_key, "Accept": "application/json", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        LoopClient(api_key, base_url=url, rate_limit=None, max_concurrency=concurrency) as loop,
    ):

        async def send(method: str, href: str, body: Any) -> dict[str, Any]:
            data = orjson.dumps(body) if method in ("POST", "PUT", "PATCH") else None
            async with session.request(method, href, data=data, headers=headers) as resp:
                content = await resp.read()
                if resp.status >= 400:
                    raise RuntimeError(f"{method} {href} -> {resp.status}: {content[:200]!r}")
            result: dict[str, Any] = orjson.loads(content)
            return result

        async def raw(order_name: str, zip_code: str) -> None:
            data = await send(
                "POST",
                f"{api}/draft-returns",
                {"order_name": order_name, "secondary_input": zip_code, "is_gift": False},
            )
            for _ in range(20):
                required = [link for link in data["links"] if link.get("is_required")]
                if not required:
                    break
                link = required[0]
                data = await send(link["method"].upper(), link["href"], raw_values(data, link))
            if data["draft_return"]["state"] != "submitted":
                raise RuntimeError(f"raw flow ended in {data['draft_return']['state']}")

        async def sdk(order_name: str, zip_code: str) -> None:
            nav = await loop.draft_returns.create(order_name, zip_code)
            done = await drive(nav, policy)
            if done.navigator.resource.draft_return.state != "submitted":
                raise RuntimeError(f"SDK flow ended {done.outcome}: {done.navigator.resource.draft_return.state}")

        yield {"aiohttp+orjson": raw, "LoopClient navigator": sdk}


async def _batch(flow: Flow, orders: list[tuple[str, str]], concurrency: int) -> tuple[float, float]:
    queue = iter(orders)

    async def worker() -> None:
        for name, zip_code in queue:
            await flow(name, zip_code)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall0, time.process_time() - cpu0


def _requests(server: ServerProcess) -> int:
    return sum(server.call("request_counts").values())


async def measure(server: ServerProcess, cfg: Config) -> dict[str, list[dict[str, float]]]:
    """Warm-up, then interleaved batches of ``cfg.flows`` flows per variant; each on fresh orders."""
    orders = iter(server.info["orders"])
    samples: dict[str, list[dict[str, float]]] = {}
    async with flows(server.url, server.api_key, cfg.flow_concurrency) as runners:
        for flow in runners.values():
            await _batch(flow, [next(orders) for _ in range(min(10, cfg.flows))], cfg.flow_concurrency)
        for _ in range(cfg.reps):
            for name, flow in runners.items():
                batch = [next(orders) for _ in range(cfg.flows)]
                server_cpu0, requests0 = server.cpu(), _requests(server)
                wall, cpu = await _batch(flow, batch, cfg.flow_concurrency)
                server_cpu, requests = server.cpu() - server_cpu0, _requests(server) - requests0
                n = len(batch)
                samples.setdefault(name, []).append(
                    {
                        "flows_per_s": n / wall,
                        "req_per_s": requests / wall,
                        "req_per_flow": requests / n,
                        "client_ms_per_flow": cpu / n * 1000,
                        "server_ms_per_flow": server_cpu / n * 1000,
                    }
                )
    return samples


def orders_needed(cfg: Config) -> int:
    """One seeded order per flow, warm-up included."""
    return (cfg.reps * cfg.flows + min(10, cfg.flows)) * 2


def run_flows(cfg: Config) -> CaseResult:
    """Flows/s and requests/s, SDK against raw aiohttp, with the server's CPU per flow."""
    result = CaseResult(
        "flows",
        f"3. Draft flows (create + drive to submitted, {REQUESTS_PER_FLOW} requests, rate limiter off)",
        [
            "client",
            "flows_per_s",
            "req_per_flow",
            "req_per_s",
            "client_ms_per_flow",
            "server_ms_per_flow",
            "ratio_vs_baseline",
            "client_cpu_ratio",
        ],
    )
    missing = fake_server_available()
    if missing:
        result.skipped = missing
        return result
    with serve("fake", orders=orders_needed(cfg)) as server:
        samples = asyncio.run(measure(server, cfg))
    summary = {name: {k: median([s[k] for s in runs]) for k in runs[0]} for name, runs in samples.items()}
    base = summary["aiohttp+orjson"]
    for name, s in summary.items():
        result.rows.append(
            {
                "client": name,
                "flows_per_s": round(s["flows_per_s"], 1),
                "req_per_flow": round(s["req_per_flow"], 2),
                "req_per_s": round(s["req_per_s"], 1),
                "client_ms_per_flow": round(s["client_ms_per_flow"], 3),
                "server_ms_per_flow": round(s["server_ms_per_flow"], 3),
                "ratio_vs_baseline": round(s["flows_per_s"] / base["flows_per_s"], 3),
                "client_cpu_ratio": round(s["client_ms_per_flow"] / base["client_ms_per_flow"], 3),
            }
        )
    result.notes.append(
        f"{cfg.flows} flows per batch at concurrency {cfg.flow_concurrency}, {cfg.reps} interleaved repetitions "
        "after a warm-up; medians. server_ms_per_flow is the fake server's own CPU (its process), the "
        "part of a flow's cost that is not the client's."
    )
    return result
