"""The demo command: it runs end to end against the embedded fake server and its figures add up."""

from __future__ import annotations

import pytest

from loop_async._cli.demo import run_demo
from loop_async._cli.main import main


async def test_demo_summary_figures_add_up() -> None:
    stages: set[str] = set()
    summary = await run_demo(
        drafts=12, concurrency=4, faults=False, progress=lambda stage, done, total: stages.add(stage)
    )
    assert summary.errors == {}
    assert summary.submitted == 12
    assert summary.processed + summary.flagged == 12
    assert summary.flagged == len(range(0, 12, 5))
    assert summary.notes == summary.deep_links == 12
    assert summary.server_side_effects["process"] == summary.processed  # processed exactly once each
    assert summary.requests >= 12 * 7  # create + at least six steps per draft
    assert summary.retries == 0
    assert stages == {"drafts", "returns"}


async def test_demo_recovers_from_every_injected_fault() -> None:
    summary = await run_demo(drafts=6, concurrency=3)
    assert summary.errors == {}
    assert summary.submitted == 6
    assert summary.faults_fired == 5
    assert summary.retries == summary.faults_fired  # each refused request was retried once
    assert summary.server_side_effects["process"] == summary.processed  # and nothing happened twice


def test_demo_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--drafts", "3", "--concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 of 3 submitted" in out
    assert "requests per second" in out


async def test_demo_on_the_hal_forms_api_version() -> None:
    summary = await run_demo(drafts=12, concurrency=4, faults=False, api_version="2026-10")
    assert summary.errors == {}
    assert summary.submitted == 12
    assert summary.processed + summary.flagged == 12
    assert summary.flagged == len(range(0, 12, 5))
    assert summary.notes == summary.deep_links == 12
    assert summary.server_side_effects["submit"] == 12
    assert summary.server_side_effects["process"] == summary.processed
    assert summary.requests >= 12 * 7
    assert summary.retries == 0


def test_demo_command_line_api_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--drafts", "2", "--concurrency", "2", "--no-faults", "--api-version", "2026-10"]) == 0
    assert "2 of 2 submitted" in capsys.readouterr().out
