"""Where a worker finds each merchant's API key: the environment, a file, or your own callable.

Workflow inputs and results name merchants, never keys; only the worker process that makes
the requests resolves a merchant to its key, when it builds its :class:`~loop_async.bulk.pool.ClientPool`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["CallableKeys", "EnvKeys", "FileKeys", "KeyProvider", "resolve_keys"]

_NAME = re.compile(r"[^A-Za-z0-9]")


@runtime_checkable
class KeyProvider(Protocol):
    """Names the merchants it knows and gives each one's API key."""

    def merchants(self) -> Iterable[str]: ...

    def key(self, merchant: str) -> str: ...


class EnvKeys:
    """Keys from environment variables ``{prefix}{MERCHANT}`` (upper case, other characters as ``_``).

    With ``merchants`` the names are given (and each variable must exist); without, every
    variable that starts with ``prefix`` is a merchant (its lower-cased rest is the name).
    """

    def __init__(
        self,
        prefix: str = "LOOP_API_KEY_",
        merchants: Iterable[str] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.prefix = prefix
        self._names = None if merchants is None else list(merchants)
        self._environ = environ

    def variable(self, merchant: str) -> str:
        """The environment variable holding ``merchant``'s key."""
        return self.prefix + _NAME.sub("_", merchant).upper()

    def merchants(self) -> list[str]:
        if self._names is not None:
            return list(self._names)
        return sorted(name[len(self.prefix) :].lower() for name in self._environ if name.startswith(self.prefix))

    def key(self, merchant: str) -> str:
        value = self._environ.get(self.variable(merchant), "").strip()
        if not value:
            raise KeyError(f"no API key for merchant {merchant!r}: set {self.variable(merchant)}")
        return value

    def __repr__(self) -> str:
        return f"EnvKeys(prefix={self.prefix!r})"


class FileKeys:
    """Keys from a JSON file ``{"merchant": "key", ...}``, or a directory with one file per merchant."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _mapping(self) -> dict[str, str]:
        if self.path.is_dir():
            return {p.name: p.read_text(encoding="utf-8").strip() for p in sorted(self.path.iterdir()) if p.is_file()}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError(f"{self.path}: expected a JSON object mapping merchant names to API keys")
        return {str(k): v.strip() for k, v in data.items()}

    def merchants(self) -> list[str]:
        return list(self._mapping())

    def key(self, merchant: str) -> str:
        value = self._mapping().get(merchant, "")
        if not value:
            raise KeyError(f"no API key for merchant {merchant!r} in {self.path}")
        return value

    def __repr__(self) -> str:
        return f"FileKeys({str(self.path)!r})"


class CallableKeys:
    """Keys from ``lookup(merchant)`` (a secrets manager, say) for the ``merchants`` given."""

    def __init__(self, merchants: Iterable[str], lookup: Callable[[str], str]) -> None:
        self._names = list(merchants)
        self._lookup = lookup

    def merchants(self) -> list[str]:
        return list(self._names)

    def key(self, merchant: str) -> str:
        return self._lookup(merchant)

    def __repr__(self) -> str:
        return f"CallableKeys(merchants={self._names!r})"


def resolve_keys(provider: KeyProvider) -> dict[str, str]:
    """Every merchant's key, resolved once (when a worker starts)."""
    return {merchant: provider.key(merchant) for merchant in provider.merchants()}
