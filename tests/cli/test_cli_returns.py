"""``loop-async returns list`` and ``loop-async webhooks listen`` against loopback servers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from loop_async._cli.main import build_parser
from loop_async._cli.returns import parse_when, run_list
from loop_async._cli.webhooks import serve
from loop_async.testing import FakeLoopServer
from loop_async.webhooks import SIGNATURE_HEADER, compute_signature

UTC = timezone.utc
T0 = datetime(2025, 1, 1, tzinfo=UTC)
LIST_ROUTE = "GET /api/v1/warehouse/return/list"


@pytest.fixture
async def server() -> AsyncIterator[FakeLoopServer]:
    async with FakeLoopServer(orders=4) as srv:
        yield srv


def seed_spread(server: FakeLoopServer) -> set[int]:
    """Returns every 10 days over 200 days (two windows), one on the boundary."""
    ids = {server.seed_return(created_at=T0 + timedelta(days=10 * k, hours=3)) for k in range(20)}
    ids.add(server.seed_return(created_at=T0 + timedelta(days=120)))
    return ids


async def run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    status = await run_list(args, out, err)
    return status, out.getvalue(), err.getvalue()


def base_args(server: FakeLoopServer, *extra: str) -> list[str]:
    return ["returns", "list", "--from", "2025-01-01", "--to", "2025-07-20", "--base-url", str(server.url), *extra]


async def test_jsonl_streams_every_return_once(server: FakeLoopServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_API_KEY", server.api_key)
    expected = seed_spread(server)
    status, out, err = await run(base_args(server, "--page-size", "4", "--rate", "0"))
    assert status == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(expected)
    assert all(isinstance(r["total"], str) for r in rows)  # exact decimals, as strings
    assert f"{len(expected)} returns" in err
    assert server.request_counts[LIST_ROUTE] > 2  # two windows, several pages


async def test_csv_to_a_file_with_state_filter(
    server: FakeLoopServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOP_API_KEY", server.api_key)
    closed = server.seed_return(state="closed", created_at=T0 + timedelta(days=3))
    server.seed_return(state="open", created_at=T0 + timedelta(days=4))
    target = tmp_path / "returns.csv"
    status, out, _ = await run(base_args(server, "--state", "closed", "--format", "csv", "--output", str(target)))
    assert status == 0
    assert out == ""
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["id"]), r["state"]) for r in rows] == [(closed, "closed")]
    assert rows[0]["line_items"] == "1"
    assert rows[0]["currency"]


async def test_api_key_from_file_and_never_echoed(server: FakeLoopServer, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk_wrong_secret_value\n", encoding="utf-8")
    status, out, err = await run(base_args(server, "--api-key-file", str(key_file), "--no-progress"))
    assert status == 1
    assert out == ""
    assert "sk_wrong_secret_value" not in err
    assert "401" in err


async def test_missing_api_key_is_a_usage_error(server: FakeLoopServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOOP_API_KEY", raising=False)
    status, _, err = await run(base_args(server))
    assert status == 2
    assert "LOOP_API_KEY" in err
    assert sum(server.request_counts.values()) == 0


async def test_reversed_range_is_rejected_before_sending(
    server: FakeLoopServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOP_API_KEY", server.api_key)
    argv = ["returns", "list", "--from", "2025-02-01", "--to", "2025-01-01", "--base-url", str(server.url)]
    status, _, err = await run(argv)
    assert status == 2
    assert "end" in err
    assert sum(server.request_counts.values()) == 0


def test_no_api_key_flag_exists() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["returns", "list", "--from", "2025-01-01", "--to", "2025-01-02", "--api-key", "x"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-31", datetime(2025, 1, 31, tzinfo=UTC)),
        ("2025-01-31 12:30:00", datetime(2025, 1, 31, 12, 30, tzinfo=UTC)),
        ("2025-01-31T12:30:00Z", datetime(2025, 1, 31, 12, 30, tzinfo=UTC)),
        ("2025-01-31T14:30:00+02:00", datetime(2025, 1, 31, 12, 30, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text) == expected


def test_bad_date_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["returns", "list", "--from", "yesterday", "--to", "2025-01-02"])


async def test_the_installed_command_end_to_end(server: FakeLoopServer) -> None:
    ids = seed_spread(server)
    env = {**os.environ, "LOOP_API_KEY": server.api_key}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loop_async",
        *base_args(server, "--rate", "0"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == sorted(ids)
    assert server.api_key.encode() not in err


# -- webhooks listen -------------------------------------------------------------------------


async def test_webhooks_listen_prints_verified_events_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LOOP_WEBHOOK_SECRET", "whsec_cli")
    args = build_parser().parse_args(["webhooks", "listen", "--port", "0", "--secret-env", "TEST_LOOP_WEBHOOK_SECRET"])
    out, err = io.StringIO(), io.StringIO()
    ready: asyncio.Future[URL] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(args, out, err, started=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 10)
        good = b'{"topic":"giftcard","trigger":"giftcard.requested","return_id":9,"amount":"5.00","currency":"USD"}'
        forged = b'{"topic":"return","trigger":"return.closed","id":1}'
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url, data=good, headers={SIGNATURE_HEADER: compute_signature("whsec_cli", good)}
            ) as r:
                assert r.status == 200
            async with session.post(
                url, data=forged, headers={SIGNATURE_HEADER: compute_signature("nope", forged)}
            ) as r:
                assert r.status == 401
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [json.loads(good)]
    assert "listening on http://127.0.0.1:" in err.getvalue()


async def test_webhooks_listen_needs_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_LOOP_WEBHOOK_SECRET", raising=False)
    args = build_parser().parse_args(["webhooks", "listen", "--port", "0", "--secret-env", "TEST_LOOP_WEBHOOK_SECRET"])
    err = io.StringIO()
    assert await serve(args, io.StringIO(), err) == 2
    assert "TEST_LOOP_WEBHOOK_SECRET" in err.getvalue()
