"""The bulk job: one coroutine per input item, a bounded window in flight, one outcome per item.

A feeder task pulls the input lazily and starts items while there is room; finished items
become :class:`~loop_async.bulk.Outcome` records, handed out in order or as they complete.
Leaving the job cancels what is in flight and waits for it, so no task outlives the job. It
never retries an item and never sends anything itself. The whole behaviour: ``docs/bulk.md``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from loop_async.bulk.job_options import JobOptions, JobSettings, resolve_options
from loop_async.bulk.outcomes import JobReport, Outcome, Progress, without_frames

if TYPE_CHECKING:
    from typing_extensions import Unpack


__all__ = ["BulkJob", "finish_tasks", "run", "run_all"]

T = TypeVar("T")
R = TypeVar("R")

_RATE_WINDOW = 10.0  # seconds of completions the current rate is measured over


async def finish_tasks(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Wait until every task is done, even if the caller is cancelled (again and again) meanwhile.

    Cancellations received while waiting are held and the last one is re-raised once the
    tasks are done: a second Ctrl-C must not leave tasks running behind the caller's back.
    Cancel the tasks first if they should stop.
    """
    pending = [task for task in tasks if not task.done()]
    if not pending:
        return
    everything = asyncio.gather(*pending, return_exceptions=True)
    interrupted: asyncio.CancelledError | None = None
    while not everything.done():
        try:
            await asyncio.shield(everything)
        except asyncio.CancelledError as exc:
            if everything.cancelled():  # pragma: no cover - nobody else holds `everything`
                break
            interrupted = exc
    if interrupted is not None:
        raise interrupted


class _RateMeter:
    """Completions per second over a sliding window (memory bounded by rate x window)."""

    def __init__(self, clock: Callable[[], float], window: float = _RATE_WINDOW) -> None:
        self._clock = clock
        self._window = window
        self._started = clock()
        self._times: collections.deque[float] = collections.deque()

    def tick(self) -> None:
        self._times.append(self._clock())

    def rate(self) -> float:
        now = self._clock()
        while self._times and self._times[0] < now - self._window:
            self._times.popleft()
        span = min(self._window, now - self._started)
        return len(self._times) / span if span > 0 else 0.0

    def elapsed(self) -> float:
        return self._clock() - self._started


def _length_of(items: object) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


class BulkJob(Generic[T, R]):
    """A running bulk job: an async iterator of :class:`~loop_async.bulk.Outcome` and an async context manager.

    Create it with :func:`run`; its keywords (or ``options=``) are the fields of
    :class:`~loop_async.bulk.JobOptions`. Use ``async with`` whenever the loop over outcomes may
    end early (``break``, an exception, a cancellation): leaving the block cancels what is in
    flight and waits for it, and :attr:`report` then accounts for every started item.

    A feeder task starts items whenever there is room (fewer than ``concurrency`` running and
    fewer than ``window`` started but not yet handed out), independently of the consumer, so a
    slow consumer or a slow async source does not leave the in-flight window half empty.
    """

    def __init__(
        self,
        items: Iterable[T] | AsyncIterable[T],
        func: Callable[[T], Awaitable[R]],
        *,
        options: JobOptions | None = None,
        key: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        **settings: Unpack[JobSettings],
    ) -> None:
        #: The :class:`~loop_async.bulk.JobOptions` it runs with (``options`` with ``settings`` applied).
        self.options = resolve_options("BulkJob", options, settings)
        self._sync_items: Iterator[T] | None = None
        self._async_items: AsyncIterator[T] | None = None
        if isinstance(items, AsyncIterable):
            self._async_items = aiter(items)
        else:
            self._sync_items = iter(items)
        self._func = func
        self._concurrency = self.options.concurrency
        self._ordered = self.options.ordered
        self._window = self.options.max_unclaimed
        self.total = self.options.total if self.options.total is not None else _length_of(items)
        self._on_progress = self.options.on_progress
        self._limiter = self.options.limiter
        self._key = key
        self._stop_on = self.options.stop_on
        self._stopped_by: BaseException | None = None
        self._meter = _RateMeter(clock)
        self._running: dict[int, tuple[T, asyncio.Task[R]]] = {}
        self._completed: collections.deque[int] = collections.deque()  # indexes whose task is done
        self._ready: dict[int, Outcome[T, R]] = {}  # ordered mode: finished, waiting for their turn
        self._ready_fifo: collections.deque[Outcome[T, R]] = collections.deque()  # as-completed mode
        self._wakeup = asyncio.Event()  # for the consumer: an item finished, or the feeder ended
        self._room = asyncio.Event()  # for the feeder: an item finished or was handed out
        self._feeder: asyncio.Task[None] | None = None
        self._feeding_done = False
        self._next_index = 0  # next item to start
        self._next_yield = 0  # ordered mode: next index to hand out
        self._yielded = 0
        self._exhausted = False
        self._source_error: BaseException | None = None
        self._stopping = False
        self._closed = False
        self._succeeded = 0
        self._failed = 0
        self._cancelled: list[tuple[int, Any]] = []
        self._unclaimed: list[Outcome[T, R]] = []

    # -- control ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Start no new items; the ones in flight finish and are still yielded, then iteration ends."""
        self._stopping = True
        self._room.set()
        self._wakeup.set()

    @property
    def in_flight(self) -> int:
        """Items started whose coroutine has not finished."""
        return len(self._running) - len(self._completed)

    @property
    def progress(self) -> Progress:
        """The current progress snapshot."""
        return Progress(
            done=self._succeeded + self._failed,
            failed=self._failed,
            total=self.total,
            in_flight=self.in_flight,
            rate=self._meter.rate(),
            elapsed=self._meter.elapsed(),
        )

    @property
    def report(self) -> JobReport:
        """What the job has done so far (final once iteration ended or the job was closed)."""
        return JobReport(
            started=self._next_index,
            succeeded=self._succeeded,
            failed=self._failed,
            cancelled=tuple(self._cancelled),
            stopped=self._stopping,
            elapsed=self._meter.elapsed(),
            yielded=self._yielded,
            unclaimed=tuple(self._unclaimed),
            stopped_by=self._stopped_by,
        )

    async def aclose(self) -> None:
        """Stop starting items, cancel the ones in flight and wait until they are really done.

        Idempotent. A cancellation that arrives while waiting (a second Ctrl-C) does not cut
        the wait short: it is re-raised once every task is done. Afterwards every started item
        is in :attr:`report`: cancelled in flight (``cancelled``), or finished but never handed
        out (``unclaimed``, with its outcome).
        """
        if self._closed:
            return
        self._closed = True
        if not self._exhausted:
            self._stopping = True
        self._room.set()
        tasks: list[asyncio.Future[Any]] = [task for _, task in self._running.values()]
        if self._feeder is not None:
            tasks.append(self._feeder)
        for task in tasks:
            task.cancel()
        try:
            await finish_tasks(tasks)
        finally:
            self._settle()

    def _settle(self) -> None:
        """Account for every item not handed out: finished ones are unclaimed, the rest cancelled."""
        for index, (item, task) in sorted(self._running.items()):
            if not task.done():  # pragma: no cover - only if finish_tasks was cut short
                task.cancel()
                self._cancelled.append((index, item))
            elif task.cancelled():
                self._cancelled.append((index, item))
            else:
                self._ready_fifo.append(self._outcome(index, item, task))
        self._running.clear()
        self._completed.clear()
        self._unclaimed.extend(sorted([*self._ready.values(), *self._ready_fifo], key=lambda o: o.index))
        self._ready.clear()
        self._ready_fifo.clear()

    async def __aenter__(self) -> BulkJob[T, R]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- iteration -------------------------------------------------------------------------

    def __aiter__(self) -> BulkJob[T, R]:
        return self

    async def __anext__(self) -> Outcome[T, R]:
        while True:
            self._collect()
            outcome = self._pop_ready()
            if outcome is not None:
                self._yielded += 1
                self._room.set()
                return outcome
            if self._closed:
                raise StopAsyncIteration
            if self._feeder is None and not self._feeding_done:
                self._feeder = asyncio.create_task(self._feed(), name="loop-async bulk feeder")
            if not self._running and self._feeding_done:
                await self.aclose()
                if self._source_error is not None:
                    error, self._source_error = self._source_error, None
                    raise error
                raise StopAsyncIteration
            self._wakeup.clear()
            if not self._completed:
                await self._wakeup.wait()

    def _has_room(self) -> bool:
        # `concurrency` coroutines at most actually running, and at most `window` items started
        # and not yet handed out (this bounds memory and, when ordered, how far ahead we run).
        return self.in_flight < self._concurrency and self._next_index - self._yielded < self._window

    async def _feed(self) -> None:
        """Start items while there is room, until the input ends or the job stops."""
        try:
            while True:
                while not self._has_room() and not self._stopping:
                    self._room.clear()
                    await self._room.wait()
                if self._stopping:
                    return
                try:
                    if self._async_items is not None:
                        item = await anext(self._async_items)
                    else:
                        assert self._sync_items is not None
                        item = next(self._sync_items)
                except (StopIteration, StopAsyncIteration):
                    self._exhausted = True
                    return
                except Exception as exc:  # noqa: BLE001 - the input failed: finish what runs, then raise it
                    self._exhausted = True
                    self._source_error = exc
                    return
                if self._stopping:
                    return  # stopped while the source was producing this item: it is not started
                index = self._next_index
                self._next_index += 1
                task = asyncio.create_task(self._call(item), name=f"loop-async bulk item {index}")
                self._running[index] = (item, task)
                task.add_done_callback(functools.partial(self._on_done, index))
        finally:
            self._feeding_done = True
            self._wakeup.set()

    async def _call(self, item: T) -> R:
        if self._limiter is not None:
            await self._limiter.acquire()
        return await self._func(item)

    def _on_done(self, index: int, task: asyncio.Task[R]) -> None:
        if self._stop_on is not None and self._stopped_by is None and not task.cancelled():
            error = task.exception()
            if error is not None and self._stop_on(error):
                # Checked here, not when the outcome is collected: no further item may start meanwhile.
                self._stopped_by = error
                self.stop()
        if self._closed:
            return  # aclose accounts for it (it waits for every task, then settles)
        self._completed.append(index)
        self._wakeup.set()
        self._room.set()

    def _outcome(self, index: int, item: T, task: asyncio.Task[R]) -> Outcome[T, R]:
        """The outcome of a finished task, counted as succeeded or failed."""
        if task.cancelled():
            outcome: Outcome[T, R] = Outcome(index, item, error=asyncio.CancelledError(), key=self._key)
        elif (error := task.exception()) is not None:
            outcome = Outcome(index, item, error=without_frames(error), key=self._key)
        else:
            outcome = Outcome(index, item, value=task.result(), key=self._key)
        if outcome.ok:
            self._succeeded += 1
        else:
            self._failed += 1
        self._meter.tick()
        return outcome

    def _collect(self) -> None:
        """Turn finished tasks into outcomes, count them and report progress."""
        changed = False
        while self._completed:
            index = self._completed.popleft()
            item, task = self._running.pop(index)
            outcome = self._outcome(index, item, task)
            changed = True
            if self._ordered:
                self._ready[index] = outcome
            else:
                self._ready_fifo.append(outcome)
        if changed and self._on_progress is not None:
            self._on_progress(self.progress)

    def _pop_ready(self) -> Outcome[T, R] | None:
        if self._ordered:
            outcome = self._ready.pop(self._next_yield, None)
            if outcome is not None:
                self._next_yield += 1
            return outcome
        return self._ready_fifo.popleft() if self._ready_fifo else None


def run(
    items: Iterable[T] | AsyncIterable[T],
    func: Callable[[T], Awaitable[R]],
    *,
    options: JobOptions | None = None,
    **settings: Unpack[JobSettings],
) -> BulkJob[T, R]:
    """Run ``func(item)`` for every item, at most ``concurrency`` at once; iterate the outcomes.

    The keywords are the fields of :class:`~loop_async.bulk.JobOptions` (``concurrency``,
    ``ordered``, ``window``, ``total``, ``on_progress``, ``limiter``, ``stop_on``); pass
    ``options=`` to reuse a set of them. ``ordered=True`` yields outcomes in input order,
    ``ordered=False`` as they complete; at most ``window`` (default ``2 * concurrency``) are
    started and not yet handed out. ``stop_on`` decides which errors stop the job (default: a
    401 or 403; ``None``: never).
    """
    return BulkJob(items, func, options=resolve_options("run", options, settings))


async def run_all(
    items: Iterable[T] | AsyncIterable[T],
    func: Callable[[T], Awaitable[R]],
    *,
    options: JobOptions | None = None,
    **settings: Unpack[JobSettings],
) -> list[Outcome[T, R]]:
    """Run the job to the end and return every outcome (in input order unless ``ordered=False``).

    Takes the same keywords as :func:`run`.
    """
    async with BulkJob(items, func, options=resolve_options("run_all", options, settings)) as job:
        return [outcome async for outcome in job]
