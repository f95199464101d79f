"""The one collector of argument problems: every caller adds to it, it raises them together, nothing is sent."""

from __future__ import annotations

from loop_async.errors import FieldProblem, FieldValidationError

__all__ = ["Problems"]


class Problems:
    """Collects argument problems; :meth:`raise_if_any` raises them together."""

    def __init__(self, action: str | None) -> None:
        self.action = action
        self.items: list[FieldProblem] = []

    def add(self, name: str, message: str) -> None:
        """Record that argument ``name`` is wrong, and how."""
        self.items.append(FieldProblem(name, message))

    def positive_id(self, name: str, value: object) -> None:
        """``value`` must be a positive integer (Loop's ids are)."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(name, f"must be a positive integer id, got {type(value).__name__} {value!r}")
        elif value <= 0:
            self.add(name, f"must be a positive integer id, got {value}")

    def text(self, name: str, value: object, *, max_length: int | None = None, required: bool = True) -> None:
        """``value`` must be a string, non-blank when required, at most ``max_length`` long."""
        if value is None and not required:
            return
        if not isinstance(value, str):
            self.add(name, f"must be a string, got {type(value).__name__}")
        elif required and not value.strip():
            self.add(name, "must not be empty")
        elif max_length is not None and len(value) > max_length:
            self.add(name, f"must be at most {max_length} characters, got {len(value)}")

    def raise_if_any(self) -> None:
        """Raise :class:`FieldValidationError` listing every problem, if there is one."""
        if self.items:
            raise FieldValidationError(self.items, action=self.action)
