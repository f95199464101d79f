"""Destinations: where returns are shipped (``loop.destinations``: list, get, create, update, delete).

Documented only by a third-party spec: the scope (Returns), the update answer (the
destination) and the delete answer (no body) are guesses, listed in the fidelity table (``docs/fidelity.md``).
``create`` is not idempotent and is never re-sent on an uncertain outcome; ``update`` (PUT)
and ``delete`` are, and the transport may retry them.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

import attrs

from loop_async._sansio.problems import Problems
from loop_async._transport import Transport
from loop_async.models._convert import structure, unstructure
from loop_async.models.common import Address
from loop_async.models.warehouse import Destination, DestinationType

__all__ = ["DestinationsResource"]

_ADDRESS_FIELDS = frozenset(attrs.fields_dict(Address))


def _address(problems: Problems, address: object) -> dict[str, Any] | None:
    if isinstance(address, Address):
        data: dict[str, Any] = {k: v for k, v in unstructure(address).items() if v is not None}
        return data
    if not isinstance(address, Mapping):
        problems.add("address", f"must be an Address or a mapping, got {type(address).__name__}")
        return None
    unknown = sorted(str(k) for k in address if k not in _ADDRESS_FIELDS)
    if unknown:
        problems.add("address", f"unknown keys {unknown}; known: {sorted(_ADDRESS_FIELDS)}")
    for key, value in address.items():
        if value is not None and not isinstance(value, str):
            problems.add(f"address.{key}", f"must be a string, got {type(value).__name__}")
    return dict(address)


def _type(problems: Problems, value: object) -> None:
    problems.one_of("type", value, [member.value for member in DestinationType])


class DestinationsResource:
    """``loop.destinations``: the shop's return destinations (warehouses, donation centers)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def list(self) -> builtins.list[Destination]:
        """Every destination."""
        response = await self._transport.request("GET", self._transport.url("destinations"))
        data = response.data
        items = data.get("destinations") if isinstance(data, dict) else data
        return builtins.list(structure(items, tuple[Destination, ...], what="destinations"))

    async def get(self, destination_id: int) -> Destination:
        """One destination."""
        problems = Problems("destinations.get")
        problems.positive_id("destination_id", destination_id)
        problems.raise_if_any()
        response = await self._transport.request("GET", self._transport.url("destinations", destination_id))
        return structure(_unwrap(response.data), Destination, what="destination")

    async def create(
        self,
        name: str,
        type: str | DestinationType,
        address: Address | Mapping[str, str],
        *,
        enabled: bool | None = None,
    ) -> Destination:
        """Add a destination (``type`` ``warehouse`` or ``donate``)."""
        problems = Problems("destinations.create")
        problems.text("name", name)
        _type(problems, type)
        body_address = _address(problems, address)
        if enabled is not None and not isinstance(enabled, bool):
            problems.add("enabled", f"must be a bool, got {builtins.type(enabled).__name__}")
        problems.raise_if_any()
        body: dict[str, Any] = {"name": name, "type": str(type), "address": body_address}
        if enabled is not None:
            body["enabled"] = enabled
        response = await self._transport.request("POST", self._transport.url("destinations"), json=body)
        return structure(_unwrap(response.data), Destination, what="destination")

    async def update(
        self,
        destination_id: int,
        *,
        name: str | None = None,
        type: str | DestinationType | None = None,
        address: Address | Mapping[str, str] | None = None,
        enabled: bool | None = None,
    ) -> Destination | None:
        """Change a destination; only the fields given are sent (at least one).

        Returns the destination when Loop answers with it (``None`` for an empty answer).
        """
        problems = Problems("destinations.update")
        problems.positive_id("destination_id", destination_id)
        body: dict[str, Any] = {}
        if name is not None:
            problems.text("name", name)
            body["name"] = name
        if type is not None:
            _type(problems, type)
            body["type"] = str(type)
        if address is not None:
            body["address"] = _address(problems, address)
        if enabled is not None:
            if not isinstance(enabled, bool):
                problems.add("enabled", f"must be a bool, got {builtins.type(enabled).__name__}")
            body["enabled"] = enabled
        if not body:
            problems.add("name/type/address/enabled", "give at least one field to change")
        problems.raise_if_any()
        response = await self._transport.request("PUT", self._transport.url("destinations", destination_id), json=body)
        if response.data is None:
            return None
        return structure(_unwrap(response.data), Destination, what="destination")

    async def delete(self, destination_id: int) -> None:
        """Remove a destination."""
        problems = Problems("destinations.delete")
        problems.positive_id("destination_id", destination_id)
        problems.raise_if_any()
        await self._transport.request("DELETE", self._transport.url("destinations", destination_id))


def _unwrap(data: Any) -> Any:
    # Not documented whether one destination comes bare or as {"destination": {...}}: accept both.
    if isinstance(data, dict) and isinstance(data.get("destination"), dict):
        return data["destination"]
    return data
