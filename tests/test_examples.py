"""Every script of examples/ runs against the embedded fake server, as a user would start it.

(``examples/warehouse_walkthrough.py`` has its own test, ``tests/test_warehouse_walkthrough.py``;
``tests/test_docs_blocks.py`` checks every example with ``mypy --strict``.)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loop_async import LoopClient
from loop_async.testing import FakeLoopServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_test() -> None:
    tested = {
        "confirm_receipt.py",
        "warehouse_bulk.py",
        "support_draft.py",
        "fastapi_app.py",
        "warehouse_walkthrough.py",
    }
    assert {path.name for path in EXAMPLES.glob("*.py")} == tested


def test_a_3pl_confirms_receipt_and_waits_for_return_closed() -> None:
    result = run_example("confirm_receipt.py")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "process queued=True" in lines[0]
    assert lines[-1].endswith(": closed (its state at Loop: closed)"), result.stdout


def test_a_warehouse_bulk_job_reports_ok_failed_and_unknown() -> None:
    result = run_example("warehouse_bulk.py", "--fake")
    assert result.returncode == 0, result.stderr
    assert "10 started: 1 failed, 8 ok, 1 unknown" in result.stdout
    assert "UNPROCESSABLE_FLAGGED_RETURN" in result.stdout  # the failed one: Loop refused it
    # The unknown one was answered 504 and acted on anyway: processed once, never twice.
    assert "the fake server processed 9 of 10 returns (each at most once)" in result.stdout


def test_a_support_tool_drives_a_draft_to_submitted() -> None:
    result = run_example("support_draft.py")
    assert result.returncode == 0, result.stderr
    states = [line.split(" is ")[1].split(";")[0] for line in result.stdout.splitlines() if line.startswith("draft ")]
    assert states == ["created", "created", "returning-items-finalized", "returning-items-finalized", "submitted"]
    assert result.stdout.rstrip().endswith("created")  # "return N created"


def test_the_fastapi_app_follows_process_to_return_closed_over_http() -> None:
    result = run_example("fastapi_app.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("'status': 'closed'}"), result.stdout


async def test_the_fastapi_app_checks_signatures_and_settles_on_the_signed_webhook() -> None:
    """In process (ASGI transport, the app's lifespan run by hand): Loop's real signed delivery is relayed."""
    example = load("fastapi_app.py")
    deliveries: list[tuple[bytes, str]] = []

    async def capture(request: web.Request) -> web.Response:
        deliveries.append((await request.read(), request.headers["X-Loop-Signature"]))
        return web.Response()

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", capture)
    async with FakeLoopServer() as fake, TestServer(receiver_app, host="127.0.0.1") as receiver:
        app = example.create_app(
            secret=fake.webhook_secret,
            public_url=str(receiver.make_url("")).rstrip("/") + "/relay",
            client_factory=lambda: LoopClient(fake.api_key, base_url=fake.url, rate_limit=None),
        )
        async with app.router.lifespan_context(app):
            # The lifespan subscribed the app's public URL to both topics.
            assert sorted((h.topic, h.trigger) for h in fake.webhooks.values()) == [
                ("return", "return.closed"),
                ("return.processing", "return.processing.failed"),
            ]
            async with LoopClient(fake.api_key, base_url=fake.url, rate_limit=None) as loop:
                await loop.webhooks.create("return", "return.closed", str(receiver.make_url("/hook")))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                bad = await http.post(
                    "/loop/webhooks", content=b'{"topic": "return"}', headers={"X-Loop-Signature": "x"}
                )
                assert bad.status_code == 401

                return_id = fake.seed_return()
                queued = await http.post(f"/returns/{return_id}/process")
                assert queued.status_code == 202 and queued.json()["status"] == "queued"
                assert (await http.get(f"/returns/{return_id}")).json()["status"] == "queued"

                await fake.wait_idle()
                assert deliveries, "the fake server delivered return.closed"
                body, signature = deliveries[-1]
                relayed = await http.post("/loop/webhooks", content=body, headers={"X-Loop-Signature": signature})
                assert relayed.status_code == 200
                settled = await http.get(f"/returns/{return_id}", params={"wait": "5"})
                assert settled.json() == {"return_id": return_id, "status": "closed"}

                missing = await http.post("/returns/999999/process")
                assert missing.status_code == 502 and "Loop refused" in missing.json()["detail"]


@pytest.mark.parametrize("name", ["confirm_receipt.py", "support_draft.py", "warehouse_bulk.py"])
def test_against_loop_the_examples_ask_for_what_they_need(name: str) -> None:
    required = {"confirm_receipt.py": ["--return-id", "1"], "support_draft.py": ["--order-name", "#1"]}
    if name == "warehouse_bulk.py":
        result = run_example(name, "--input", "/nonexistent/ids.txt")
        assert result.returncode != 0 and "No such file" in result.stderr
        return
    result = run_example(name, *required[name])
    assert result.returncode == 2 and "is needed" in result.stderr
