"""A started fake Loop server with a client for it, set up in one call: what the pytest fixtures use.

::

    async with open_fake_loop(returns=2, faults=["status,route=POST /warehouse/return/{return_id}/process"],
                              api_version="2026-10", scopes=["Returns"]) as fake:
        await fake.client.returns.process(fake.return_ids[0])

The pytest plugin's ``make_fake_loop`` fixture calls it and closes everything after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import attrs

from loop_async.client import LoopClient
from loop_async.testing.scopes import ALL_SCOPES, DEFAULT_API_KEY
from loop_async.testing.server import FakeLoopServer

__all__ = ["FakeLoop", "FakeLoopFactory", "open_fake_loop"]

#: A fault as text (``FaultInjector.inject_spec``) or as ``FaultInjector.inject`` keywords.
FaultSpec = str | Mapping[str, Any]


@attrs.frozen
class FakeLoop:
    """A started :class:`FakeLoopServer`, a :class:`LoopClient` for it, and the seeded return ids."""

    server: FakeLoopServer
    client: LoopClient
    return_ids: tuple[int, ...] = ()


class FakeLoopFactory(Protocol):
    """The type of the ``make_fake_loop`` fixture: takes :func:`open_fake_loop`'s options."""

    def __call__(
        self,
        *,
        orders: int = ...,
        seed: int = ...,
        returns: int = ...,
        faults: Iterable[FaultSpec] = ...,
        api_version: str = ...,
        scopes: Iterable[str] | None = ...,
        client_options: Mapping[str, Any] | None = ...,
        **server_options: Any,
    ) -> Awaitable[FakeLoop]: ...


@asynccontextmanager
async def open_fake_loop(
    *,
    orders: int = 50,
    seed: int = 0,
    returns: int = 0,
    faults: Iterable[FaultSpec] = (),
    api_version: str = "v1",
    scopes: Iterable[str] | None = None,
    client_options: Mapping[str, Any] | None = None,
    **server_options: Any,
) -> AsyncIterator[FakeLoop]:
    """Start a fake server and a client for it; stop both on exit.

    ``orders`` and ``seed`` make the seed data, ``returns`` seeds that many open returns (ids in
    ``return_ids``), ``faults`` are injected before the client is handed over, ``api_version``
    is the client's (``v1``, ``2026-07``, ``2026-10``), ``scopes`` are the key's (default: all).
    ``client_options`` go to :class:`LoopClient` (default: ``rate_limit=None``), any other
    keyword to :class:`FakeLoopServer` (``rate_limit_per_minute``, ``processing_delay``, ...).
    """
    if returns < 0:
        raise ValueError(f"returns must not be negative, got {returns}")
    if "api_keys" in server_options and scopes is not None:
        raise ValueError("give scopes or api_keys, not both")
    if scopes is not None:
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope names, not one string")
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {sorted(ALL_SCOPES)}")
        server_options["api_keys"] = {DEFAULT_API_KEY: tuple(scopes)}
    async with FakeLoopServer(orders=orders, seed=seed, **server_options) as server:
        return_ids = tuple(server.seed_return() for _ in range(returns))
        for fault in faults:
            if isinstance(fault, str):
                server.faults.inject_spec(fault)
            else:
                server.faults.inject(**fault)
        options: dict[str, Any] = {"rate_limit": None, **(client_options or {})}
        async with LoopClient(server.api_key, base_url=server.url, api_version=api_version, **options) as client:
            yield FakeLoop(server=server, client=client, return_ids=return_ids)
