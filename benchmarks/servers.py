"""Servers for the benchmarks, each in its own process (so server and client never share a loop).

A server process binds a free loopback port, then writes ``("ready", info)`` to a pipe; the
benchmark waits for that line, never for a sleep. The same pipe carries control commands
(CPU time used by the server, fault injection, status counts) and ``stop``.

Two servers:

- ``payload``: a bare :mod:`aiohttp.web` app answering ``GET /api/v1/draft-returns/{id}`` with
  the reference draft-return payload (bytes prepared once), so the transport cases measure the
  client, not a server's business logic;
- ``fake``: :class:`loop_async.testing.FakeLoopServer` with the options a case needs (per-key
  rate limit, several keys, fault injection).
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

PAYLOAD_PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "draft-return-response.json"
READY_TIMEOUT = 60.0
MP_CONTEXT = multiprocessing.get_context("spawn")  # a clean interpreter: no loop or session inherited


def fake_server_available() -> str | None:
    """``None`` when :class:`FakeLoopServer` can be imported, else why not."""
    try:
        from loop_async.testing import FakeLoopServer  # noqa: F401
    except ImportError as exc:
        return f"loop_async.testing.FakeLoopServer not available ({exc})"
    return None


class ServerProcess:
    """The parent's handle on a server process: its URL, key, and a control channel."""

    def __init__(self, process: Any, conn: multiprocessing.connection.Connection, info: dict[str, Any]) -> None:
        self.process = process
        self._conn = conn
        self.url: str = info["url"]
        self.api_key: str = info.get("api_key", "bench-key")
        self.info = info

    def call(self, command: str, **kwargs: Any) -> Any:
        """Run ``command`` in the server process and return its answer (re-raises its error)."""
        self._conn.send((command, kwargs))
        if not self._conn.poll(READY_TIMEOUT):
            raise TimeoutError(f"server did not answer {command!r}")
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"server command {command!r} failed: {value}")
        return value

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (to separate the server's own time)."""
        return float(self.call("cpu"))


@contextmanager
def serve(kind: str, **options: Any) -> Iterator[ServerProcess]:
    """Start a ``payload`` or ``fake`` server in a new process; stop it on exit."""
    parent, child = MP_CONTEXT.Pipe()
    process = MP_CONTEXT.Process(target=_main, args=(kind, options, child), daemon=True, name=f"bench-{kind}-server")
    process.start()
    child.close()
    try:
        if not parent.poll(READY_TIMEOUT):
            raise TimeoutError(f"{kind} server did not become ready in {READY_TIMEOUT:.0f}s")
        status, info = parent.recv()
        if status != "ready":
            raise RuntimeError(f"{kind} server failed to start: {info}")
        yield ServerProcess(process, parent, info)
    finally:
        with suppress(OSError):  # the process may be gone already
            parent.send(("stop", {}))
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
        parent.close()


# --- in the server process -------------------------------------------------------------------


def _main(kind: str, options: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    try:
        asyncio.run(_serve(kind, options, conn))
    except BaseException as exc:
        with suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


async def _serve(kind: str, options: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    if kind == "payload":
        await _serve_payload(conn)
    elif kind == "fake":
        await _serve_fake(options, conn)
    else:
        raise ValueError(f"unknown server kind {kind!r}")


async def _control(conn: multiprocessing.connection.Connection, handlers: dict[str, Any]) -> None:
    """Answer commands from the pipe until ``stop`` (reads only when the pipe is readable)."""
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    handlers = {"cpu": lambda: time.process_time(), **handlers}

    def on_readable() -> None:
        try:
            command, kwargs = conn.recv()
        except EOFError:
            command, kwargs = "stop", {}
        if command == "stop":
            loop.remove_reader(conn.fileno())
            if not stopped.done():
                stopped.set_result(None)
            return
        try:
            conn.send((True, handlers[command](**kwargs)))
        except Exception as exc:
            conn.send((False, f"{type(exc).__name__}: {exc}"))

    loop.add_reader(conn.fileno(), on_readable)
    await stopped


async def _serve_payload(conn: multiprocessing.connection.Connection) -> None:
    from aiohttp import web

    body = PAYLOAD_PATH.read_bytes()
    hits = collections.Counter[int]()

    async def draft(request: web.Request) -> web.Response:
        hits[200] += 1
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/draft-returns/{draft_id}", draft)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    conn.send(("ready", {"url": f"http://127.0.0.1:{port}", "api_key": "bench-key"}))
    try:
        await _control(conn, {"statuses": lambda: dict(hits)})
    finally:
        await runner.cleanup()


async def _serve_fake(options: dict[str, Any], conn: multiprocessing.connection.Connection) -> None:
    from loop_async.testing import FakeLoopServer

    async with FakeLoopServer(**options) as server:

        def statuses() -> dict[int | None, int]:
            # ``None``: the connection was dropped before a status was sent.
            return dict(collections.Counter(record.status for record in server.request_log))

        def inject(**kwargs: Any) -> None:
            server.faults.inject(**kwargs)

        def seed_drafts(count: int) -> list[int]:
            return [server.seed_return() for _ in range(count)]

        def clear_log() -> None:
            server.request_log.clear()

        info = {
            "url": str(server.url),
            "api_key": server.api_key,
            "keys": sorted(options.get("api_keys", {}) or [server.api_key]),
            "orders": [(order.name, order.zip) for order in server.orders],
        }
        conn.send(("ready", info))
        await _control(
            conn,
            {
                "statuses": statuses,
                "inject": inject,
                "clear_faults": lambda: server.faults.clear(),
                "clear_log": clear_log,
                "request_counts": lambda: dict(server.request_counts),
                "seed": seed_drafts,
            },
        )
