"""Open string enums: an unknown value decodes to a pseudo-member that keeps the raw string.

Loop adds values to its documented sets without notice; a decode must not fail on them.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class OpenEnum(str, enum.Enum):
    """A ``str`` enum that accepts values it does not know.

    ``DraftReturnState("archived")`` returns a member whose ``value`` is ``"archived"`` and
    whose :attr:`is_known` is ``False``; it compares equal to its string like any member.
    Subclasses may map alternative spellings to a member in ``__aliases__``.
    """

    __aliases__: ClassVar[dict[str, str]] = {}

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        aliases: dict[str, str] = getattr(cls, "__aliases__", {})
        if value in aliases:
            return cls(aliases[value])
        member: Any
        member = str.__new__(cls, value)
        member._name_ = f"UNKNOWN[{value}]"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one of the documented members."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str(self.value)
