"""The one collector of argument problems: every caller adds to it, it raises them together, nothing is sent."""

from __future__ import annotations

from collections.abc import Iterable

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

    def one_of(self, name: str, value: object, allowed: Iterable[object]) -> None:
        """``value`` must be one of ``allowed`` (listed in the message in the order given).

        Compared by equality, never hashed: an unhashable value is a problem, not a ``TypeError``.
        """
        choices = list(allowed)
        if value not in choices:
            self.add(name, f"must be one of {choices}, got {value!r}")

    def boolean(self, name: str, value: object) -> None:
        """``value`` must be ``True`` or ``False``."""
        if not isinstance(value, bool):
            self.add(name, f"must be True or False, got {value!r}")

    def int_at_least(self, name: str, value: object, minimum: int, *, wording: str | None = None) -> None:
        """``value`` must be an integer (not a bool) of at least ``minimum``; ``wording`` names it."""
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.add(name, f"must be {wording or f'an integer of at least {minimum}'}, got {value!r}")

    def number_at_least(
        self, name: str, value: object, minimum: float, *, wording: str | None = None, allow_none: bool = False
    ) -> None:
        """``value`` must be a number (not a bool) of at least ``minimum`` (or ``None`` when allowed)."""
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            self.add(name, f"must be {wording or f'a number of at least {minimum:g}'}, got {value!r}")

    def positive_number(
        self, name: str, value: object, *, wording: str = "a positive number", allow_none: bool = False
    ) -> None:
        """``value`` must be a number (not a bool) above 0 (or ``None`` when allowed)."""
        if value is None and allow_none:
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.add(name, f"must be {wording}{' or None' if allow_none else ''}, got {value!r}")

    def instance_of(self, name: str, value: object, cls: type, *, label: str | None = None) -> None:
        """``value`` must be ``None`` or an instance of ``cls`` (``label`` names it in the message)."""
        if value is not None and not isinstance(value, cls):
            self.add(name, f"must be a {label or cls.__name__}, got {type(value).__name__}")

    @staticmethod
    def single(name: str, message: str, *, action: str | None = None) -> FieldValidationError:
        """The error for one problem, to ``raise`` where no other can join it."""
        return FieldValidationError([FieldProblem(name, message)], action=action)

    def raise_if_any(self) -> None:
        """Raise :class:`FieldValidationError` listing every problem, if there is one."""
        if self.items:
            raise FieldValidationError(self.items, action=self.action)
