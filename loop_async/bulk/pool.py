"""Several merchants at once: one :class:`~loop_async.LoopClient` per API key, one sub-job per key.

:class:`ClientPool` keeps a client (and its own limiter) per merchant key; :class:`PoolJob`
merges the merchants' :class:`~loop_async.bulk.BulkJob` outcomes, each merchant isolated from
the others. It must not import the :mod:`loop_async.bulk` facade. The guide: ``docs/bulk.md``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from loop_async._sansio.problems import Problems
from loop_async.bulk.job import BulkJob, finish_tasks
from loop_async.bulk.job_options import JobOptions, PoolSettings, ProgressCallback, resolve_options
from loop_async.bulk.outcomes import JobReport, Outcome, Progress
from loop_async.client import LoopClient
from loop_async.errors import PoolInputError
from loop_async.ratelimit import LimiterState, RateLimiter, build_limiter

if TYPE_CHECKING:
    from typing_extensions import Unpack


__all__ = ["ClientPool", "PoolInputError", "PoolJob"]

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class _PumpDone:
    key: str
    error: Exception | None = None


class PoolJob(Generic[T, R]):
    """A job across merchants: one :class:`~loop_async.bulk.BulkJob` per key, outcomes merged
    as they come (in input order *within* a key when ``ordered``). Iterate it inside ``async with``.

    Merchants are isolated: when one merchant's input fails (its iterable raises), that
    merchant's items in flight finish and are yielded, its job ends, and the others go on.
    Once every merchant is done, iteration raises :class:`~loop_async.errors.PoolInputError`,
    which names the merchants and holds their errors (:attr:`errors` has them too, during the
    run). A fatal answer (401/403) stops only that merchant's job.

    No outcome is lost however the caller leaves (``break``, cancellation, an exception): an
    outcome a merchant's job finished is buffered here at once, and whatever was not handed
    out when the job closes is in :attr:`report`'s ``unclaimed``.
    """

    def __init__(
        self,
        jobs: Mapping[str, BulkJob[T, R]],
        on_progress: ProgressCallback | None,
    ) -> None:
        self._jobs = dict(jobs)
        self._on_progress = on_progress
        # Bounded: a slow consumer holds every key's job back instead of buffering without end.
        # A pump appends first and waits for room after, so it never holds an outcome while waiting.
        self._capacity = max(1, 2 * len(jobs))
        self._buffer: collections.deque[Outcome[T, R] | _PumpDone] = collections.deque()
        self._ready = asyncio.Event()  # the buffer has something
        self._room = asyncio.Event()  # the buffer has room
        self._room.set()
        self._pumps: list[asyncio.Task[None]] = []
        self._open_pumps = len(jobs)
        self._delivered: collections.Counter[str] = collections.Counter()
        self._leftover: list[Outcome[T, R]] = []
        self._errors: dict[str, Exception] = {}
        self._errors_raised = False
        self._closed = False

    def _start(self) -> None:
        if not self._pumps and not self._closed:
            self._pumps = [
                asyncio.create_task(self._pump(key, job), name=f"loop-async pool {key}")
                for key, job in self._jobs.items()
            ]

    def _put(self, entry: Outcome[T, R] | _PumpDone) -> None:
        self._buffer.append(entry)
        self._ready.set()
        if len(self._buffer) >= self._capacity:
            self._room.clear()

    async def _pump(self, key: str, job: BulkJob[T, R]) -> None:
        try:
            async with job:
                async for outcome in job:
                    self._put(outcome)
                    await self._room.wait()
        except Exception as exc:  # noqa: BLE001 - this merchant's input failed: report it, the others go on
            self._put(_PumpDone(key, exc))
            return
        self._put(_PumpDone(key))

    def _job_progress(self, _progress: Progress) -> None:
        if self._on_progress is not None:
            self._on_progress(self.progress)

    @property
    def progress(self) -> Progress:
        """Progress summed over every key (``total`` is ``None`` if any key's total is unknown)."""
        parts = [job.progress for job in self._jobs.values()]
        totals = [p.total for p in parts]
        return Progress(
            done=sum(p.done for p in parts),
            failed=sum(p.failed for p in parts),
            total=None if any(t is None for t in totals) else sum(t for t in totals if t is not None),
            in_flight=sum(p.in_flight for p in parts),
            rate=sum(p.rate for p in parts),
            elapsed=max((p.elapsed for p in parts), default=0.0),
        )

    @property
    def reports(self) -> dict[str, JobReport]:
        """Each key's :class:`~loop_async.bulk.JobReport`, counting what this pool job handed out."""
        reports = {}
        for key, job in self._jobs.items():
            report = job.report
            left = tuple(o for o in self._leftover if o.key == key)
            reports[key] = attrs.evolve(report, yielded=self._delivered[key], unclaimed=report.unclaimed + left)
        return reports

    @property
    def report(self) -> JobReport:
        """Every key's report in one: ``started == yielded + len(unclaimed) + len(cancelled)``.

        Outcomes carry their merchant in ``key``; the ``cancelled`` pairs do not (see :attr:`reports`).
        """
        parts = list(self.reports.values())
        return JobReport(
            started=sum(r.started for r in parts),
            succeeded=sum(r.succeeded for r in parts),
            failed=sum(r.failed for r in parts),
            cancelled=tuple(pair for r in parts for pair in r.cancelled),
            stopped=any(r.stopped for r in parts),
            elapsed=max((r.elapsed for r in parts), default=0.0),
            yielded=sum(r.yielded for r in parts),
            unclaimed=tuple(o for r in parts for o in r.unclaimed),
            stopped_by=next((r.stopped_by for r in parts if r.stopped_by is not None), None),
        )

    @property
    def errors(self) -> dict[str, Exception]:
        """The merchants whose input failed, with the error (empty when every input was read)."""
        return dict(self._errors)

    def stop(self) -> None:
        """Start no new items for any key; the ones in flight finish and are still yielded."""
        for job in self._jobs.values():
            job.stop()

    async def aclose(self) -> None:
        """Cancel everything in flight, for every key, and wait until it is really done.

        Idempotent; a cancellation that arrives meanwhile is re-raised once everything is done.
        Outcomes finished but not handed out are then in :attr:`report` (``unclaimed``).
        """
        if self._closed:
            return
        self._closed = True
        for pump in self._pumps:
            pump.cancel()
        try:
            await finish_tasks(self._pumps)
        finally:
            # Jobs whose pump never ran still count as closed (nothing ran); the others are no-ops.
            try:
                for job in self._jobs.values():
                    await job.aclose()
            finally:
                self._leftover.extend(entry for entry in self._buffer if isinstance(entry, Outcome))
                self._buffer.clear()

    async def __aenter__(self) -> PoolJob[T, R]:
        self._start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> PoolJob[T, R]:
        return self

    async def __anext__(self) -> Outcome[T, R]:
        self._start()
        while self._open_pumps > 0 and not self._closed:
            while not self._buffer:
                self._ready.clear()
                await self._ready.wait()
                if self._closed:
                    break
            if not self._buffer:
                break
            entry = self._buffer.popleft()
            if len(self._buffer) < self._capacity:
                self._room.set()
            if isinstance(entry, Outcome):
                assert entry.key is not None
                self._delivered[entry.key] += 1
                return entry
            self._open_pumps -= 1
            if entry.error is not None:
                self._errors[entry.key] = entry.error
        await self.aclose()
        if self._errors and not self._errors_raised:
            self._errors_raised = True
            first = next(iter(self._errors.values()))
            raise PoolInputError(self._errors) from first
        raise StopAsyncIteration


class ClientPool:
    """One :class:`~loop_async.LoopClient` per merchant API key, each with its own rate budget.

    ``api_keys`` maps a merchant name (any label you choose; it is what reports and outcomes
    show, the keys themselves never are) to its API key. ``rate_limit`` is each key's budget in
    requests per minute; ``limiter_factory(name)`` builds a limiter per merchant instead (for
    example a :class:`~loop_async.ratelimit.redis.RedisRateLimiter`, so that several processes
    share each key's budget). Other keyword arguments go to every :class:`LoopClient`.
    """

    def __init__(
        self,
        api_keys: Mapping[str, str],
        *,
        rate_limit: float | None = 300,
        limiter_factory: Callable[[str], RateLimiter] | None = None,
        **client_options: Any,
    ) -> None:
        problems = Problems("ClientPool")
        if not api_keys:
            problems.add("api_keys", "must name at least one merchant")
        problems.raise_if_any()
        self._clients: dict[str, LoopClient] = {}
        for name, api_key in api_keys.items():
            limiter = build_limiter(rate_limit, limiter_factory(name) if limiter_factory is not None else None)
            self._clients[name] = LoopClient(api_key, rate_limit=None, rate_limiter=limiter, **client_options)

    def __getitem__(self, name: str) -> LoopClient:
        return self._clients[name]

    def __contains__(self, name: object) -> bool:
        return name in self._clients

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    def limiter_states(self) -> dict[str, LimiterState]:
        """Each merchant's limiter state, for limiters that expose one (``state``)."""
        states: dict[str, LimiterState] = {}
        for name, client in self._clients.items():
            state = getattr(client.rate_limiter, "state", None)
            if isinstance(state, LimiterState):
                states[name] = state
        return states

    def run(
        self,
        work: Mapping[str, Iterable[T] | AsyncIterable[T]],
        func: Callable[[LoopClient, T], Awaitable[R]],
        *,
        options: JobOptions | None = None,
        **settings: Unpack[PoolSettings],
    ) -> PoolJob[T, R]:
        """Run ``func(client, item)`` for each merchant's items with that merchant's client.

        ``work`` maps merchant names to their items. The keywords are those of
        :func:`~loop_async.bulk.run` but ``total`` (:class:`~loop_async.bulk.JobOptions`), each
        applied per merchant (``concurrency`` is per merchant); ``on_progress`` gets the sum
        over every merchant. Outcomes carry the merchant in ``key`` and the item's index within
        that merchant's items.
        """
        chosen = resolve_options("ClientPool.run", options, settings, pool=True)
        unknown = [name for name in work if name not in self._clients]
        if unknown:
            raise KeyError(f"no API key for merchant(s): {', '.join(map(str, unknown))}")
        pool_job: PoolJob[T, R]
        per_merchant = attrs.evolve(chosen, on_progress=lambda p: pool_job._job_progress(p))
        jobs = {
            name: BulkJob(items, functools.partial(func, self._clients[name]), options=per_merchant, key=name)
            for name, items in work.items()
        }
        pool_job = PoolJob(jobs, chosen.on_progress)
        return pool_job

    async def run_all(
        self,
        work: Mapping[str, Iterable[T] | AsyncIterable[T]],
        func: Callable[[LoopClient, T], Awaitable[R]],
        *,
        options: JobOptions | None = None,
        **settings: Unpack[PoolSettings],
    ) -> dict[str, list[Outcome[T, R]]]:
        """Run the job to the end; every merchant's outcomes, in that merchant's input order
        (unless ``ordered=False``). Takes the same keywords as :meth:`run`.

        Raises :class:`PoolInputError` (after every merchant is done) if a merchant's input failed.
        """
        chosen = resolve_options("ClientPool.run_all", options, settings, pool=True)
        results: dict[str, list[Outcome[T, R]]] = {name: [] for name in work}
        async with self.run(work, func, options=chosen) as job:
            async for outcome in job:
                assert outcome.key is not None
                results[outcome.key].append(outcome)
        return results

    async def aclose(self) -> None:
        """Close every client (and limiters with an ``aclose``, e.g. Redis ones)."""
        for client in self._clients.values():
            await client.aclose()
            closer = getattr(client.rate_limiter, "aclose", None)
            if closer is not None:
                await closer()

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<ClientPool merchants={list(self._clients)!r}>"
