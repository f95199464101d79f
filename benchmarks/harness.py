"""What every case shares: run sizes, timing of one batch, medians, and the result records.

Every figure is a median over repetitions after a warm-up, and every SDK figure is reported
next to a baseline measured in the same run (these machines are shared and noisy: absolute
numbers move, ratios much less). Client CPU is ``time.process_time()`` in this process; the
servers run in other processes, so it is the client's own cost.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Config:
    """Sizes of one run. :meth:`full`, :meth:`quick` and :meth:`smoke` are the presets."""

    name: str
    reps: int  # measured repetitions per variant (after one warm-up batch)
    overhead_n: int  # requests per batch in the transport case
    concurrencies: tuple[int, ...]
    decode_number: int  # decodes per timing sample
    scaling_ns: tuple[int, ...]
    scaling_concurrency: int
    rate_per_minute: int  # case 4, one key
    rate_seconds: float
    many_keys: int  # case 4, keys at once
    many_keys_per_minute: int
    many_keys_seconds: float
    flows: int  # case 3, draft flows per batch
    flow_concurrency: int
    memory_flows: int  # case 5
    memory_delay: float
    keys: int  # case 7, keys driven at once through one pool
    keys_per_minute: int
    keys_seconds: float
    memory_traced: bool = True  # case 5: also the tracemalloc run (a second client process)

    @classmethod
    def full(cls) -> Config:
        """The full run (about six minutes on two cores)."""
        return cls(
            name="full",
            reps=5,
            overhead_n=3000,
            concurrencies=(1, 64),
            decode_number=2000,
            scaling_ns=(1_000, 10_000, 100_000),
            scaling_concurrency=64,
            rate_per_minute=600,
            rate_seconds=60.0,
            many_keys=200,
            many_keys_per_minute=300,
            many_keys_seconds=20.0,
            flows=300,
            flow_concurrency=32,
            memory_flows=10_000,
            memory_delay=1.0,
            keys=500,
            keys_per_minute=300,
            keys_seconds=20.0,
        )

    @classmethod
    def quick(cls) -> Config:
        """Every case in under a minute: few repetitions, short rate windows, 2,000 pending flows."""
        return cls(
            name="quick",
            reps=3,
            overhead_n=400,
            concurrencies=(1, 64),
            decode_number=500,
            scaling_ns=(400, 1_600),
            scaling_concurrency=64,
            rate_per_minute=600,
            rate_seconds=5.0,
            many_keys=100,
            many_keys_per_minute=300,
            many_keys_seconds=3.0,
            flows=40,
            flow_concurrency=32,
            memory_flows=2_000,
            memory_delay=0.25,
            keys=500,
            keys_per_minute=300,
            keys_seconds=4.0,
            memory_traced=False,
        )

    @classmethod
    def smoke(cls) -> Config:
        """Minimal sizes for the smoke test: checks the code runs, measures nothing useful."""
        return cls(
            name="smoke",
            reps=1,
            overhead_n=20,
            concurrencies=(1, 4),
            decode_number=5,
            scaling_ns=(10, 20),
            scaling_concurrency=4,
            rate_per_minute=600,
            rate_seconds=1.0,
            many_keys=3,
            many_keys_per_minute=600,
            many_keys_seconds=1.0,
            flows=3,
            flow_concurrency=2,
            memory_flows=20,
            memory_delay=0.2,
            keys=3,
            keys_per_minute=600,
            keys_seconds=1.0,
        )


@dataclass
class Target:
    """One target of the issue: ``value`` compared with ``limit`` (``at_least`` or at most)."""

    name: str
    value: float
    limit: float
    at_least: bool

    @property
    def met(self) -> bool:
        """Whether the measured value is on the right side of the limit."""
        return self.value >= self.limit if self.at_least else self.value <= self.limit


@dataclass
class CaseResult:
    """The outcome of one case: a table (``columns`` + ``rows``), targets, notes, or why it was skipped."""

    case: str
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (targets carry ``met``)."""
        data = asdict(self)
        data["targets"] = [{**asdict(t), "met": t.met} for t in self.targets]
        return data


@dataclass(frozen=True)
class Batch:
    """One timed batch of ``n`` operations: wall and client CPU seconds."""

    n: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        """Operations per wall-clock second."""
        return self.n / self.wall

    @property
    def cpu_per_1k(self) -> float:
        """Client CPU seconds per 1,000 operations."""
        return self.cpu / self.n * 1000


async def run_batch(n: int, concurrency: int, one: Callable[[], Awaitable[Any]]) -> Batch:
    """Run ``one()`` ``n`` times with ``concurrency`` workers; time the whole batch."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))
    return Batch(n, time.perf_counter() - wall0, time.process_time() - cpu0)


def median(values: list[float]) -> float:
    """The median (what every table reports)."""
    return statistics.median(values)


def paired_ratios(variant: list[Batch], baseline: list[Batch]) -> list[float]:
    """Per repetition, the variant's requests/s over the baseline's in the same repetition.

    Repetitions are interleaved, so each pair saw about the same machine load: the spread of
    these ratios is the honest error bar of the median ratio.
    """
    return [v.per_second / b.per_second for v, b in zip(variant, baseline, strict=True)]


def spread(values: list[float]) -> str:
    """``min to max`` of ``values`` (what the tables print next to a median)."""
    return f"{min(values):.3f}-{max(values):.3f}" if values else ""


def summarise(batches: list[Batch]) -> dict[str, float]:
    """Median requests/s and client CPU s per 1k requests over batches."""
    return {
        "per_s": median([b.per_second for b in batches]),
        "cpu_per_1k": median([b.cpu_per_1k for b in batches]),
    }
