"""Grading and dispositioning (scope Returns): ``loop.dispositions.grade`` and ``.assess``.

Every item is checked before anything is sent, then items go 30 per call (Loop's limit), one
call after the other. Each batch ends ``ok``, ``failed`` or ``unknown`` by the one
uncertain-outcome rule (:mod:`loop_async._sansio.outcome`); a failed batch never stops the
others, and an uncertain one is never re-sent. The limits and checks: ``docs/warehouse.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import attrs
from yarl import URL

from loop_async._sansio.outcome import OutcomeKind, classify
from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.errors import LoopError, PartialOutcomeError
from loop_async.models._convert import structure
from loop_async.models.warehouse import ConditionCategory, Disposition, DispositionOutcome, Grade

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "MAX_BATCH",
    "MAX_IMAGES",
    "NOTE_MAX_LENGTH",
    "PROCESSOR_MAX_LENGTH",
    "Assessment",
    "Batch",
    "BatchResult",
    "DispositionsResource",
    "Grading",
    "check_assessments",
    "format_inspected_at",
]

#: Loop's limit of items per grade or assess call.
MAX_BATCH = 30
PROCESSOR_MAX_LENGTH = 100
NOTE_MAX_LENGTH = 65535
DESCRIPTION_MAX_LENGTH = 255
MAX_IMAGES = 5
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

In = TypeVar("In")
Out = TypeVar("Out")


@attrs.frozen(kw_only=True)
class Assessment:
    """One item to disposition: what happens to it after inspection."""

    line_item_id: int
    outcome: DispositionOutcome | str
    return_processor: str | None = None
    note: str | None = None
    inspected_at: datetime | str | None = None

    def to_json(self) -> dict[str, Any]:
        """The item as Loop's ``items[]`` entry (call after validation)."""
        body: dict[str, Any] = {"line_item_id": self.line_item_id, "disposition_outcome": str(self.outcome)}
        _put_optional(body, self.return_processor, self.note, self.inspected_at)
        return body


@attrs.frozen(kw_only=True)
class Grading:
    """One item to grade: its condition after inspection."""

    line_item_id: int
    description: str
    condition_category: ConditionCategory | str | None = None
    return_processor: str | None = None
    note: str | None = None
    images: Sequence[str] = ()
    inspected_at: datetime | str | None = None

    def to_json(self) -> dict[str, Any]:
        """The item as Loop's ``items[]`` entry (call after validation)."""
        body: dict[str, Any] = {"line_item_id": self.line_item_id, "description": self.description}
        if self.condition_category is not None:
            body["condition_category"] = str(self.condition_category)
        _put_optional(body, self.return_processor, self.note, self.inspected_at)
        if self.images:
            body["images"] = list(self.images)
        return body


def _put_optional(body: dict[str, Any], processor: str | None, note: str | None, at: datetime | str | None) -> None:
    if processor is not None:
        body["return_processor"] = processor
    if note is not None:
        body["note"] = note
    if at is not None:
        body["inspected_at"] = format_inspected_at(at)


def format_inspected_at(value: datetime | str) -> str:
    """Loop's ``YYYY-MM-DD HH:MM:SS`` in UTC, from an aware datetime (a string is kept as given)."""
    if isinstance(value, str):
        return value
    return value.astimezone(timezone.utc).strftime(_TIMESTAMP_FORMAT)


@attrs.frozen(kw_only=True)
class Batch(Generic[In, Out]):
    """One call of at most 30 items and how it ended.

    ``outcome`` is ``ok`` (``results`` holds Loop's echo), ``failed`` (nothing was applied:
    safe to send again) or ``unknown`` (it may have been applied: check before re-sending);
    ``error`` is the exception behind a failed or unknown batch.
    """

    index: int
    items: tuple[In, ...]
    outcome: OutcomeKind
    results: tuple[Out, ...] = ()
    error: BaseException | None = None


@attrs.frozen(kw_only=True)
class BatchResult(Generic[In, Out]):
    """Every batch of a grade or assess call, in input order."""

    batches: tuple[Batch[In, Out], ...]

    @property
    def ok(self) -> bool:
        """Whether every batch was applied."""
        return all(batch.outcome is OutcomeKind.OK for batch in self.batches)

    @property
    def results(self) -> tuple[Out, ...]:
        """Loop's echo of every applied item (the ``ok`` batches), in input order."""
        return tuple(result for batch in self.batches for result in batch.results)

    def with_outcome(self, outcome: OutcomeKind | str) -> tuple[Batch[In, Out], ...]:
        """The batches that ended with ``outcome`` (``"ok"``, ``"failed"``, ``"unknown"``)."""
        return tuple(batch for batch in self.batches if batch.outcome == outcome)

    @property
    def failed(self) -> tuple[Batch[In, Out], ...]:
        """Batches Loop refused or that were never sent: nothing of them was applied."""
        return self.with_outcome(OutcomeKind.FAILED)

    @property
    def unknown(self) -> tuple[Batch[In, Out], ...]:
        """Batches that may have been applied (timeout after sending, a 5xx): check before re-sending."""
        return self.with_outcome(OutcomeKind.UNKNOWN)

    def raise_for_outcome(self) -> None:
        """Raise unless every batch was applied, so that the one outcome rule classifies the call.

        Some batches applied and others not: :class:`~loop_async.errors.PartialOutcomeError`
        (``done`` is the applied items' echo, ``error`` a failure of the rest). None applied: the
        error of an ``unknown`` batch if there is one (it may have been applied), else of the
        first ``failed`` one.
        """
        bad = [batch for batch in self.batches if batch.outcome is not OutcomeKind.OK]
        if not bad:
            return
        worst = next((b for b in bad if b.outcome is OutcomeKind.UNKNOWN), bad[0])
        assert worst.error is not None
        if len(bad) < len(self.batches):
            applied = len(self.batches) - len(bad)
            raise PartialOutcomeError(
                f"{applied} of {len(self.batches)} batches applied, {len(bad)} not (see each batch)",
                done=self.results,
                error=worst.error,
            )
        raise worst.error


def _timestamp(problems: Problems, name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            problems.add(name, "must be timezone-aware (it is sent as UTC)")
        return
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        problems.add(name, f"must be an aware datetime or a 'YYYY-MM-DD HH:MM:SS' string, got {value!r}")
        return
    try:
        datetime.strptime(value, _TIMESTAMP_FORMAT)
    except ValueError:
        problems.add(name, f"is not a valid date and time: {value!r}")


def _processor(problems: Problems, name: str, value: object) -> None:
    if value is None:
        return
    problems.text(name, value, max_length=PROCESSOR_MAX_LENGTH)
    if isinstance(value, str) and value.strip() and not _EMAIL.fullmatch(value):
        problems.add(name, f"must be an email address, got {value!r}")


def _known(problems: Problems, name: str, value: object, enum: type[DispositionOutcome | ConditionCategory]) -> None:
    known = [member.value for member in enum]
    if not isinstance(value, str) or value not in known:
        problems.add(name, f"must be one of {known}, got {value!r}")


def _check_assessment(problems: Problems, where: str, item: Assessment) -> None:
    problems.positive_id(f"{where}.line_item_id", item.line_item_id)
    _known(problems, f"{where}.outcome", item.outcome, DispositionOutcome)
    _processor(problems, f"{where}.return_processor", item.return_processor)
    problems.text(f"{where}.note", item.note, required=False, max_length=NOTE_MAX_LENGTH)
    _timestamp(problems, f"{where}.inspected_at", item.inspected_at)


def _check_grading(problems: Problems, where: str, item: Grading) -> None:
    problems.positive_id(f"{where}.line_item_id", item.line_item_id)
    problems.text(f"{where}.description", item.description, max_length=DESCRIPTION_MAX_LENGTH)
    if item.condition_category is not None:
        _known(problems, f"{where}.condition_category", item.condition_category, ConditionCategory)
    _processor(problems, f"{where}.return_processor", item.return_processor)
    problems.text(f"{where}.note", item.note, required=False, max_length=NOTE_MAX_LENGTH)
    _timestamp(problems, f"{where}.inspected_at", item.inspected_at)
    images = item.images
    if isinstance(images, str) or not isinstance(images, Sequence):
        problems.add(f"{where}.images", "must be a list of image URLs")
        return
    if len(images) > MAX_IMAGES:
        problems.add(f"{where}.images", f"at most {MAX_IMAGES} images, got {len(images)}")
    for index, image in enumerate(images):
        url = URL(image) if isinstance(image, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            problems.add(f"{where}.images[{index}]", f"must be an absolute http(s) URL, got {image!r}")


def _coerce(problems: Problems, where: str, item: object, cls: type[In], aliases: Mapping[str, str]) -> In | None:
    """An input object from an instance of ``cls`` or a mapping of its fields (``aliases`` renames Loop's keys)."""
    if isinstance(item, cls):
        return item
    if not isinstance(item, Mapping):
        problems.add(where, f"must be a {cls.__name__} or a mapping, got {type(item).__name__}")
        return None
    names = {field.name for field in attrs.fields(cls)}  # type: ignore[arg-type]
    values = {aliases.get(str(key), str(key)): value for key, value in item.items()}
    unknown = sorted(set(values) - names)
    if unknown:
        problems.add(where, f"unknown keys {unknown}; known: {sorted(names)}")
        return None
    try:
        return cls(**values)
    except TypeError as exc:  # a required key is missing
        problems.add(where, str(exc).split(".", 1)[-1].strip())
        return None


def check_assessments(items: Iterable[Assessment | Mapping[str, Any]]) -> list[Assessment]:
    """The items as :class:`Assessment` objects, or :class:`FieldValidationError` listing every problem.

    What :meth:`DispositionsResource.assess` checks before sending anything; mappings may use
    Loop's key ``disposition_outcome`` for ``outcome``.
    """
    problems = Problems("dispositions.assess")
    checked: list[Assessment] = []
    for index, raw in enumerate(_listed(problems, items)):
        item = _coerce(problems, f"items[{index}]", raw, Assessment, {"disposition_outcome": "outcome"})
        if item is not None:
            _check_assessment(problems, f"items[{index}]", item)
            checked.append(item)
    problems.raise_if_any()
    return checked


class DispositionsResource:
    """``loop.dispositions``: grade and disposition inspected return line items."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def grade(
        self,
        items: Iterable[Grading | Mapping[str, Any]],
        *,
        on_batch: Callable[[Batch[Grading, Grade]], None] | None = None,
    ) -> BatchResult[Grading, Grade]:
        """Record the condition of inspected items (``POST /dispositioning/grade``), 30 per call.

        ``on_batch`` is called with each batch as soon as it ends (to record progress as it goes).
        """
        problems = Problems("dispositions.grade")
        checked: list[Grading] = []
        for index, raw in enumerate(_listed(problems, items)):
            item = _coerce(problems, f"items[{index}]", raw, Grading, {})
            if item is not None:
                _check_grading(problems, f"items[{index}]", item)
                checked.append(item)
        problems.raise_if_any()
        return await self._send(("dispositioning", "grade"), checked, Grade, "grades", on_batch)

    async def assess(
        self,
        items: Iterable[Assessment | Mapping[str, Any]],
        *,
        on_batch: Callable[[Batch[Assessment, Disposition]], None] | None = None,
    ) -> BatchResult[Assessment, Disposition]:
        """Record what happens to inspected items (``POST /dispositioning/assess``), 30 per call.

        Mappings may use Loop's key ``disposition_outcome`` for ``outcome``. ``on_batch`` is
        called with each batch as soon as it ends (to record progress as it goes).
        """
        checked = check_assessments(items)
        return await self._send(("dispositioning", "assess"), checked, Disposition, "dispositions", on_batch)

    async def _send(
        self,
        path: tuple[str, ...],
        items: list[In],
        result_type: type[Out],
        what: str,
        on_batch: Callable[[Batch[In, Out]], None] | None,
    ) -> BatchResult[In, Out]:
        url = self._transport.url(*path)
        batches: list[Batch[In, Out]] = []
        for index, start in enumerate(range(0, len(items), MAX_BATCH)):
            chunk = tuple(items[start : start + MAX_BATCH])
            body = {"items": [item.to_json() for item in chunk]}  # type: ignore[attr-defined]
            try:
                response = await self._transport.request("POST", url, json=body)
                results = structure(response.data, tuple[result_type, ...], what=what)  # type: ignore[valid-type]
            except LoopError as exc:
                # One batch's failure is reported with it; the next batches are still sent.
                batch: Batch[In, Out] = Batch(index=index, items=chunk, outcome=classify(exc), error=exc)
            else:
                batch = Batch(index=index, items=chunk, outcome=OutcomeKind.OK, results=results)
            batches.append(batch)
            if on_batch is not None:
                on_batch(batch)
        return BatchResult(batches=tuple(batches))


def _listed(problems: Problems, items: object) -> list[Any]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        problems.add("items", f"must be a list of items, got {type(items).__name__}")
        return []
    listed = list(items)
    if not listed:
        problems.add("items", "must name at least one item")
    return listed
