"""Grading and dispositioning: ``POST /dispositioning/grade`` and ``POST /dispositioning/assess``.

Each grade or disposition is recorded on the return line item that carries the order line item
(the latest return's when several do), so that it shows in the return's ``line_items``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from loop_async.testing.error_bodies import action_error, json_response, validation_error
from loop_async.testing.handlers._request import Route, parse_object
from loop_async.testing.store import FakeReturnLineItem, Store

__all__ = ["CONDITION_CATEGORIES", "DISPOSITION_OUTCOMES", "MAX_ITEMS", "Dispositioning"]

MAX_ITEMS = 30
DISPOSITION_OUTCOMES = frozenset({"back_to_stock", "resale_hold", "recycle", "donate", "missing"})
CONDITION_CATEGORIES = frozenset({"grade_a", "grade_b", "grade_c", "grade_d", "incorrect_item", "missing", "junk"})
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _check_time(errors: dict[str, list[str]], key: str, value: Any, *, iso: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            datetime.strptime(value, TIME_FORMAT)
            return
        except ValueError:
            pass
    elif iso and isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return
        except ValueError:
            pass
    errors[key] = [f"The {key} does not match the format Y-m-d H:i:s."]


def _check_processor(errors: dict[str, list[str]], key: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > 100:
        errors[key] = [f"The {key} may not be greater than 100 characters."]
    elif not _EMAIL.fullmatch(value):
        errors[key] = [f"The {key} must be a valid email address."]


class Dispositioning:
    """The grade and assess handlers, and what they recorded."""

    def __init__(self, store: Store, side_effects: Counter[tuple[str, int]]) -> None:
        self.store = store
        self.side_effects = side_effects
        #: Every grade and disposition Loop accepted, in order: ``(kind, item JSON)``.
        self.records: list[tuple[str, dict[str, Any]]] = []
        #: Order line item ids that belong to another shop (grade/assess answer 403).
        self.foreign_line_item_ids: set[int] = set()

    def routes(self, scope: str) -> list[Route]:
        """The routes, all needing ``scope``."""
        return [
            ("POST", "/dispositioning/grade", scope, self._grade),
            ("POST", "/dispositioning/assess", scope, self._assess),
        ]

    def return_line_item(self, line_item_id: int) -> FakeReturnLineItem | None:
        """The return line item carrying order line item ``line_item_id`` (the latest return's)."""
        for ret in sorted(self.store.returns.values(), key=lambda r: -r.id):
            for item in ret.line_items:
                if item.line_item.id == line_item_id:
                    return item
        return None

    def _items(self, body: Mapping[str, Any]) -> list[Any]:
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise validation_error({"items": ["The items field is required."]})
        if len(items) > MAX_ITEMS:
            raise validation_error({"items": [f"The items may not have more than {MAX_ITEMS} items."]})
        return items

    def _line_items(self, items: list[Any], errors: dict[str, list[str]]) -> list[FakeReturnLineItem | None]:
        found: list[FakeReturnLineItem | None] = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                errors[f"items.{index}"] = [f"The items.{index} must be an object."]
                found.append(None)
                continue
            line_item_id = item.get("line_item_id")
            key = f"items.{index}.line_item_id"
            if type(line_item_id) is not int:
                errors[key] = [f"The {key} field is required."]
                found.append(None)
            elif line_item_id in self.foreign_line_item_ids:
                raise action_error(403, "NOT_AUTHORIZED", f"Line item {line_item_id} belongs to another shop.")
            else:
                target = self.return_line_item(line_item_id)
                if target is None:
                    errors[key] = [f"The selected {key} is invalid."]
                found.append(target)
        return found

    async def _grade(self, request: web.Request) -> web.StreamResponse:
        items = self._items(parse_object(await request.read(), required=True))
        errors: dict[str, list[str]] = {}
        targets = self._line_items(items, errors)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            where = f"items.{index}"
            description = item.get("description")
            if not isinstance(description, str) or not description.strip():
                errors[f"{where}.description"] = [f"The {where}.description field is required."]
            elif len(description) > 255:
                errors[f"{where}.description"] = [f"The {where}.description may not be greater than 255 characters."]
            category = item.get("condition_category")
            if category is not None and category not in CONDITION_CATEGORIES:
                errors[f"{where}.condition_category"] = [f"The selected {where}.condition_category is invalid."]
            _check_processor(errors, f"{where}.return_processor", item.get("return_processor"))
            images = item.get("images", [])
            if not isinstance(images, list) or len(images) > 5 or not all(isinstance(i, str) for i in images):
                errors[f"{where}.images"] = [f"The {where}.images must be a list of at most 5 URLs."]
            _check_time(errors, f"{where}.inspected_at", item.get("inspected_at"), iso=True)
        if errors:
            raise validation_error(errors)
        for item, target in zip(items, targets, strict=True):
            assert target is not None
            target.condition_category = item.get("condition_category")
            self.records.append(("grade", dict(item)))
            self.side_effects[("grade", item["line_item_id"])] += 1
        return json_response([self._echo(item, "grade") for item in items])

    async def _assess(self, request: web.Request) -> web.StreamResponse:
        items = self._items(parse_object(await request.read(), required=True))
        errors: dict[str, list[str]] = {}
        targets = self._line_items(items, errors)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            where = f"items.{index}"
            if item.get("disposition_outcome") not in DISPOSITION_OUTCOMES:
                errors[f"{where}.disposition_outcome"] = [f"The selected {where}.disposition_outcome is invalid."]
            _check_processor(errors, f"{where}.return_processor", item.get("return_processor"))
            note = item.get("note")
            if note is not None and (not isinstance(note, str) or len(note) > 65535):
                errors[f"{where}.note"] = [f"The {where}.note may not be greater than 65535 characters."]
            _check_time(errors, f"{where}.inspected_at", item.get("inspected_at"))
        if errors:
            raise validation_error(errors)
        for item, target in zip(items, targets, strict=True):
            assert target is not None
            target.disposition_outcome = item["disposition_outcome"]
            self.records.append(("assess", dict(item)))
            self.side_effects[("assess", item["line_item_id"])] += 1
        return json_response([self._echo(item, "assess") for item in items])

    @staticmethod
    def _echo(item: dict[str, Any], kind: str) -> dict[str, Any]:
        keys = (
            ("line_item_id", "description", "condition_category", "return_processor", "note", "images", "inspected_at")
            if kind == "grade"
            else ("line_item_id", "disposition_outcome", "return_processor", "note", "inspected_at")
        )
        return {key: item.get(key) for key in keys if key in item}
