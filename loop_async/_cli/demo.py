"""``loop-async demo``: a realistic job against the embedded fake Loop server.

It starts :class:`~loop_async.testing.FakeLoopServer` in-process, then, through the public
SDK only: builds N draft returns step by step, choosing every value from the fields of the
links each draft offers (Loop's ``links[]``, or HAL-FORMS with ``--api-version 2026-10``;
nothing about Loop's flow is hard-coded: the policy below would drive any state machine),
submits them, and then processes, flags, notes and deep-links the returns at bounded
concurrency. It ends with a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import attrs

import loop_async.bulk as bulk
from loop_async.client import LoopClient
from loop_async.hypermedia import Navigator
from loop_async.models import DraftReturnResponse, Field, FieldType, Link

__all__ = ["DemoSummary", "register", "run_demo"]

T = TypeVar("T")
ProgressCallback = Callable[[str, int, int], None]


@attrs.frozen(kw_only=True)
class DemoSummary:
    """What the demo did, for the final table and for tests."""

    drafts: int
    submitted: int
    processed: int
    flagged: int
    notes: int
    deep_links: int
    errors: Mapping[str, int]
    requests: int
    retries: int
    faults_fired: int
    seconds: float
    server_side_effects: Mapping[str, int]

    @property
    def requests_per_second(self) -> float:
        """Requests sent (every attempt) per second of wall time."""
        return self.requests / self.seconds if self.seconds else 0.0


def choose_values(rng: random.Random) -> Callable[[Navigator[Any], Link], dict[str, Any]]:
    """A generic drive policy: fill the fields from what the link itself offers."""

    def value_for(field: Field) -> Any:
        if field.allowed_values:
            return rng.choice(field.allowed_values)
        if field.type is FieldType.INT:
            return 1
        if field.type is FieldType.BOOL:
            return False
        return "demo"

    def policy(_: Navigator[Any], link: Link) -> dict[str, Any]:
        # Optional free-text fields get text too: a reason may need a comment that the link
        # cannot mark required (it depends on the chosen reason), as a person would type one.
        return {
            field.name: value_for(field)
            for field in link.fields
            if field.is_required or (field.type is FieldType.STRING and not field.allowed_values)
        }

    return policy


async def _run_stage(
    items: list[T],
    work: Callable[[T], Awaitable[None]],
    concurrency: int,
    stage: str,
    progress: ProgressCallback | None,
    errors: Counter[str],
) -> None:
    """Run ``work`` for every item with the bulk runner; count failures by error type."""

    def report(snapshot: bulk.Progress) -> None:
        if progress is not None:
            progress(stage, snapshot.done, len(items))

    async with bulk.run(
        items, work, concurrency=concurrency, ordered=False, total=len(items), on_progress=report
    ) as job:
        async for outcome in job:
            if not outcome.ok:
                errors[f"{stage}: {type(outcome.error).__name__}"] += 1


def _inject_faults(server: Any) -> None:
    """Make the fake server misbehave as Loop sometimes does.

    Each of these is safe to retry (Loop did not act), so the client recovers from all of them
    and the summary shows the retries it made. Even if one request met every fault in a row it
    would stay within the demo client's retry budget (``_DEMO_RETRIES``).
    """
    server.faults.inject("status", status=429, times=3, retry_after="0.05")  # over the rate limit
    server.faults.inject("status", route="POST /warehouse/return/{return_id}/process", status=503, times=2)


_DEMO_RETRIES = 5


async def run_demo(
    *,
    drafts: int = 200,
    concurrency: int = 16,
    seed: int = 0,
    faults: bool = True,
    progress: ProgressCallback | None = None,
    api_version: str = "v1",
) -> DemoSummary:
    """Run the whole demo against a fresh in-process fake server and return its summary.

    With ``faults`` the server answers some requests with 429 and 503 first, as Loop does
    under load, so the demo shows the client's retries at work. ``api_version`` is the API
    version the client speaks (``2026-10`` builds the drafts from HAL-FORMS templates).
    """
    from loop_async.testing import FakeLoopServer  # the demo needs the server; the SDK does not

    rng = random.Random(seed)
    errors: Counter[str] = Counter()
    return_ids: list[int] = []
    order_of: dict[int, Any] = {}
    started = time.perf_counter()
    async with (
        FakeLoopServer(orders=max(10, drafts), seed=seed) as server,
        LoopClient(
            server.api_key,
            base_url=server.url,
            rate_limit=None,
            max_concurrency=concurrency,
            max_retries=_DEMO_RETRIES,
            api_version=api_version,
        ) as loop,
    ):
        policy = choose_values(rng)
        orders = list(server.orders)
        if faults:
            _inject_faults(server)

        async def build_draft(index: int) -> None:
            order = orders[index % len(orders)]
            nav: Navigator[DraftReturnResponse] = await loop.draft_returns.create(
                order_name=order.name, secondary_input=order.zip
            )
            result = await nav.drive(policy)
            draft = result.navigator.resource.draft_return
            if draft.return_id is not None:
                return_ids.append(draft.return_id)
                order_of[draft.return_id] = order

        await _run_stage(list(range(drafts)), build_draft, concurrency, "drafts", progress, errors)

        to_flag = set(return_ids[::5])  # every fifth return needs a human look
        counts: Counter[str] = Counter()

        async def act(return_id: int) -> None:
            await loop.returns.create_note(return_id, "received at warehouse, inspected")
            counts["notes"] += 1
            order = order_of[return_id]
            await loop.returns.deep_link(order_name=order.name, zip=order.zip)
            counts["deep_links"] += 1
            if return_id in to_flag:
                await loop.returns.flag(return_id, reason="packaging damaged: review")
                counts["flagged"] += 1
            else:
                await loop.returns.process(return_id, {"source": "loop-async demo"})
                counts["processed"] += 1

        await _run_stage(return_ids, act, concurrency, "returns", progress, errors)
        side_effects = Counter(action for (action, _), n in server.side_effects.items() for _ in range(n))
        stats = loop.stats
        faults_fired = len(server.faults.fired)
    return DemoSummary(
        drafts=drafts,
        submitted=len(return_ids),
        processed=counts["processed"],
        flagged=counts["flagged"],
        notes=counts["notes"],
        deep_links=counts["deep_links"],
        errors=dict(errors),
        requests=stats["requests"],
        retries=stats["retries"],
        faults_fired=faults_fired,
        seconds=time.perf_counter() - started,
        server_side_effects=dict(side_effects),
    )


def _print_summary(summary: DemoSummary) -> None:
    rows = [
        ("draft flows", f"{summary.submitted} of {summary.drafts} submitted"),
        ("returns processed", str(summary.processed)),
        ("returns flagged (with a note)", str(summary.flagged)),
        ("notes created", str(summary.notes)),
        ("deep links", str(summary.deep_links)),
        ("requests", str(summary.requests)),
        ("faults injected by the server", str(summary.faults_fired)),
        ("retries", str(summary.retries)),
        ("errors", ", ".join(f"{k} x{v}" for k, v in summary.errors.items()) or "none"),
        ("wall time", f"{summary.seconds:.2f} s"),
        ("requests per second", f"{summary.requests_per_second:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print("\nloop-async demo: summary")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def _progress_printer() -> tuple[ProgressCallback, Callable[[], None]]:
    """A progress display: a rich bar on a terminal when rich is installed, plain lines otherwise."""
    try:
        from rich.progress import Progress as RichProgress
    except ImportError:  # rich is the optional ``cli`` extra
        RichProgress = None  # type: ignore[assignment,misc]
    if RichProgress is not None and sys.stderr.isatty():
        bar = RichProgress(transient=False)
        bar.start()
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        return on_progress, bar.stop

    def plain(stage: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if done % step == 0 or done == total:
            print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

    return plain, lambda: None


def _run(args: argparse.Namespace) -> int:
    on_progress, finish = _progress_printer()
    try:
        summary = asyncio.run(
            run_demo(
                drafts=args.drafts,
                concurrency=args.concurrency,
                seed=args.seed,
                faults=not args.no_faults,
                progress=on_progress,
                api_version=args.api_version,
            )
        )
    finally:
        finish()
    _print_summary(summary)
    return 0 if not summary.errors and summary.submitted == summary.drafts else 1


def register(subparsers: Any) -> None:
    """Add ``demo`` to the command line."""
    parser = subparsers.add_parser("demo", help="run a realistic job against the embedded fake Loop server")
    parser.add_argument("--drafts", type=int, default=200, help="draft returns to build (default 200)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the choices (default 0)")
    parser.add_argument(
        "--no-faults", action="store_true", help="do not make the fake server answer some requests with 429/503"
    )
    parser.add_argument(
        "--api-version", default="v1", help="API version to speak, e.g. v1, 2026-07 or 2026-10 (default v1)"
    )
    parser.set_defaults(handler=_run)
