"""``loop-async bulk``: input parsing and resume bookkeeping in-process; real runs as subprocesses
against a fake server served by the test's own event loop (interrupted, resumed, failing)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from loop_async._cli.bulk.input import Row, read_rows
from loop_async._cli.bulk.journal import read_done
from loop_async._cli.bulk.statuses import classify
from loop_async._cli.main import main
from loop_async.errors import (
    FieldProblem,
    FieldValidationError,
    LoopTimeoutError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from loop_async.testing import ALL_SCOPES, FakeLoopServer

SECRET = "sk_live_VERY-SECRET-KEY-987"
_PROGRESS = re.compile(rb"progress: done=(\d+)")

# -- in-process: parsing, resume state, classification ----------------------------------------


def test_csv_and_json_lines_rows_with_per_row_arguments(tmp_path: Path) -> None:
    csv_file = tmp_path / "in.csv"
    csv_file.write_text('return_id,reason,text,line_item_ids\n1,damaged,,\n2,,hello,"5, 6"\nx,,,\n')
    rows = list(read_rows(csv_file, "csv"))
    assert rows[:2] == [
        Row(line=2, return_id=1, reason="damaged"),
        Row(line=3, return_id=2, text="hello", line_item_ids=(5, 6)),
    ]
    assert isinstance(rows[2], ValueError)
    assert "return_id must be a positive integer" in str(rows[2])
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"id": 7, "line_item_ids": [1, 2]}\n\n8\n{"return_id": "9", "reason": "r"}\n')
    assert list(read_rows(jsonl, "jsonl")) == [
        Row(line=1, return_id=7, line_item_ids=(1, 2)),
        Row(line=3, return_id=8),
        Row(line=4, return_id=9, reason="r"),
    ]


def test_resume_state_last_line_wins_and_torn_lines_are_ignored(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = [
        {"return_id": 1, "action": "process", "status": "failed"},
        {"return_id": 1, "action": "process", "status": "ok"},
        {"return_id": 2, "action": "process", "status": "failed"},
        {"return_id": 3, "action": "process", "status": "unknown"},
        {"return_id": 4, "action": "close", "status": "ok"},  # another action: not done for process
    ]
    lines += [
        {"return_id": 6, "action": "process", "status": "pending", "line": 7},  # the run died in flight
        {"return_id": 8, "action": "process", "status": "pending", "line": 9},
        {"return_id": 8, "action": "process", "status": "ok", "line": 9},  # pending, then its outcome
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"return_id": 5, "act')
    state = read_done(out, "process", retry_failed=False, retry_unknown=False)
    assert state.done == {(0, 1), (0, 2), (0, 3), (0, 6), (0, 8)}
    assert state.statuses == Counter({"ok": 2, "failed": 1, "unknown": 2})  # a lone pending is unknown
    assert [o["return_id"] for o in state.orphans] == [6]
    assert read_done(out, "process", retry_failed=True, retry_unknown=False).done == {(0, 1), (0, 3), (0, 6), (0, 8)}
    assert read_done(out, "process", retry_failed=True, retry_unknown=True).done == {(0, 1), (0, 8)}


def test_rows_of_per_row_actions_are_keyed_by_line_and_id(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = [
        {"return_id": 1, "action": "note", "status": "ok", "line": 2, "text": "first"},
        {"return_id": 1, "action": "note", "status": "pending", "line": 3, "text": "second"},
    ]
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    state = read_done(out, "note", retry_failed=False, retry_unknown=False)
    assert state.done == {(2, 1), (3, 1)}
    assert [o["line"] for o in state.orphans] == [3]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("gone", status=404), "failed"),
        (RateLimitError("slow down", status=429), "failed"),
        (ServerError("unavailable", status=503), "failed"),
        (ServerError("boom", status=500), "unknown"),
        (ServerError("bad gateway", status=502), "unknown"),
        (TransportError("refused", request_sent=False), "failed"),
        (TransportError("reset", request_sent=None), "unknown"),
        (LoopTimeoutError("slow", request_sent=True), "unknown"),
        (FieldValidationError([FieldProblem("reason", "too long")]), "failed"),
        (asyncio.CancelledError(), "unknown"),
    ],
)
def test_maybe_sent_errors_are_unknown_not_failed(error: BaseException, status: str) -> None:
    assert classify(error) == status


def test_dry_run_sends_nothing_and_needs_no_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "ids.csv"
    source.write_text("id,reason\n11,damaged\n12,\n11,again\n")
    status = main(["bulk", "cancel", "--input", str(source), "--dry-run", "--base-url", "http://127.0.0.1:9"])
    captured = capsys.readouterr()
    assert status == 0
    plan = [json.loads(line) for line in captured.out.splitlines()]
    assert plan == [
        {"return_id": 11, "action": "cancel", "status": "dry-run", "reason": "damaged"},
        {"return_id": 12, "action": "cancel", "status": "dry-run"},
    ]  # the repeated id is done once (cancel acts once per return), and said so
    assert "would cancel 2 returns" in captured.err
    assert "skipped: 11 (line 4)" in captured.err


def test_bad_rows_stop_the_job_before_anything_is_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "ids.jsonl"
    source.write_text('{"id": 1}\n{"id": 2, "text": "ok"}\n')
    out = tmp_path / "out.jsonl"
    status = main(["bulk", "note", "-i", str(source), "-o", str(out), "--base-url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert status == 2
    assert "line 1: a note needs text" in err
    assert not out.exists()


def test_missing_key_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_LOOP_KEY", raising=False)
    source = tmp_path / "ids.csv"
    source.write_text("id\n1\n")
    out = tmp_path / "out.jsonl"
    status = main(["bulk", "close", "-i", str(source), "-o", str(out), "--api-key-env", "MY_LOOP_KEY"])
    assert status == 2
    assert "MY_LOOP_KEY" in capsys.readouterr().err


# -- subprocesses against the fake server ----------------------------------------------------


async def _start_cli(
    children: list[asyncio.subprocess.Process], *args: str, api_key: str | None = None
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "LOOP_API_KEY"}
    if api_key is not None:
        env["LOOP_API_KEY"] = api_key
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loop_async",
        "bulk",
        *args,
        "--progress",
        "plain",
        "--progress-interval",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    children.append(proc)
    return proc


async def _wait_for_progress(proc: asyncio.subprocess.Process, done: int) -> bytes:
    """Read the child's progress lines until it reports ``done`` outcomes (the child's own event)."""
    assert proc.stderr is not None
    seen = b""
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        seen += line
        assert line, f"the CLI ended before reporting {done} outcomes: {seen.decode()}"
        match = _PROGRESS.search(line)
        if match and int(match.group(1)) >= done:
            return seen


async def _wait_for_line(proc: asyncio.subprocess.Process, text: bytes) -> None:
    assert proc.stderr is not None
    while text not in (line := await asyncio.wait_for(proc.stderr.readline(), 30)):
        assert line, f"the CLI ended without printing {text!r}"


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _outcomes(path: Path) -> list[dict[str, object]]:
    """The final outcome lines (not the ``pending`` line written before each request)."""
    return [record for record in _lines(path) if record["status"] != "pending"]


async def test_interrupted_run_resumes_and_every_id_is_done_exactly_once(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        ids = [server.seed_return() for _ in range(60)]
        source = tmp_path / "ids.csv"
        source.write_text("return_id\n" + "\n".join(map(str, ids)) + "\n")
        out = tmp_path / "out.jsonl"
        common = ["process", "-i", str(source), "-o", str(out), "--base-url", str(server.url), "--rate", "2400"]

        first = await _start_cli(children, *common, "--concurrency", "4", api_key=SECRET)
        await _wait_for_progress(first, 10)
        first.send_signal(signal.SIGINT)
        _, err = await first.communicate()
        assert first.returncode == 130, err.decode()
        assert b"stopping" in err
        done_first = _outcomes(out)
        assert 10 <= len(done_first) < 60

        second = await _start_cli(children, *common, api_key=SECRET)
        _, err = await second.communicate()
        assert second.returncode == 0, err.decode()
        assert f"resuming: {len(done_first)} rows skipped".encode() in err

        third = await _start_cli(children, *common, api_key=SECRET)  # everything done: nothing is sent
        _, third_err = await third.communicate()
        assert third.returncode == 0
        assert b"nothing to do" in third_err

    records = _outcomes(out)
    assert Counter(r["return_id"] for r in records) == Counter(ids)  # the union covers every id once
    assert {r["status"] for r in records} == {"ok"}
    assert all(server.side_effects[("process", rid)] == 1 for rid in ids)
    assert sum(server.side_effects.values()) == 60
    assert SECRET.encode() not in out.read_bytes() + err


async def test_aborted_requests_are_recorded_unknown_and_not_redone(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        ids = [server.seed_return() for _ in range(40)]
        source = tmp_path / "ids.jsonl"
        source.write_text("".join(json.dumps({"return_id": i}) + "\n" for i in ids))
        out = tmp_path / "out.jsonl"
        common = ["close", "-i", str(source), "-o", str(out), "--base-url", str(server.url), "--rate", "0"]

        # The first 5 requests pass; every later one hangs at the server, so some are in flight when we abort.
        server.faults.inject("delay", delay=0.0, times=5)
        server.faults.inject("delay", delay=2.0, times=1000)
        first = await _start_cli(children, *common, "--concurrency", "3", api_key=SECRET)
        await _wait_for_progress(first, 5)
        first.send_signal(signal.SIGTERM)  # graceful: would wait for the hung requests...
        await _wait_for_line(first, b"stopping")
        first.send_signal(signal.SIGTERM)  # ...so abort them
        _, err = await first.communicate()
        assert first.returncode == 130, err.decode()
        server.faults.clear()
        unknown = [r["return_id"] for r in _outcomes(out) if r["status"] == "unknown"]
        assert unknown  # the aborted ones: they may have reached Loop

        second = await _start_cli(children, *common, api_key=SECRET)
        _, err = await second.communicate()
        assert second.returncode == 1  # the unknown ones still need a human
        assert b"unknown outcome" in err
        done_second = {r["return_id"] for r in _outcomes(out)} - set(unknown)

    records = _outcomes(out)
    assert Counter(r["return_id"] for r in records) == Counter(ids)  # every id once, unknown ones not redone
    assert not set(unknown) & {r["return_id"] for r in records if r["status"] == "ok"}
    assert len(done_second) == 40 - len(unknown)
    assert all(server.side_effects[("close", rid)] <= 1 for rid in ids)


async def test_failures_give_exit_1_and_a_summary_with_per_row_arguments(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(SECRET + "\n")
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        good = [server.seed_return() for _ in range(3)]
        closed = server.seed_return(state="closed")
        source = tmp_path / "notes.csv"
        rows = [(rid, f"note for {rid}") for rid in [*good, closed, 424242]]
        source.write_text("return_id,text\n" + "".join(f'{rid},"{text}"\n' for rid, text in rows))
        out = tmp_path / "out.jsonl"
        proc = await _start_cli(
            children,
            "note",
            "-i",
            str(source),
            "-o",
            str(out),
            "--base-url",
            str(server.url),
            "--api-key-file",
            str(key_file),
            "--api-key-env",
            "UNSET_VARIABLE",
        )
        stdout, err = await proc.communicate()
    assert proc.returncode == 1
    text = err.decode()
    assert "3 ok, 2 failed" in text
    assert "HTTP 200" in text and str(424242) in text  # Loop's "No return found": a 200 without a code
    assert [n.content for rid in good for n in server.returns[rid].notes] == [f"note for {rid}" for rid in good]
    by_id = {r["return_id"]: r for r in _outcomes(out)}
    assert by_id[424242]["status"] == "failed"
    assert by_id[424242]["error"]["type"] == "NotFoundError"  # type: ignore[index]
    assert by_id[good[0]]["text"] == f"note for {good[0]}"
    assert SECRET.encode() not in stdout + err + out.read_bytes()


async def test_a_killed_run_resumes_without_doing_anything_twice(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        ids = [server.seed_return() for _ in range(30)]
        source = tmp_path / "notes.csv"
        source.write_text("return_id,text\n" + "".join(f"{rid},checked by the warehouse\n" for rid in ids))
        out = tmp_path / "out.jsonl"
        common = ["note", "-i", str(source), "-o", str(out), "--base-url", str(server.url), "--rate", "0"]

        # The first 10 notes are quick; later ones hang at the server, so some are in flight at the kill
        # (and take effect after it: the dangerous case for a resume).
        server.faults.inject("delay", delay=0.0, times=10)
        server.faults.inject("delay", delay=0.3, times=1000)
        first = await _start_cli(children, *common, "--concurrency", "4", api_key=SECRET)
        await _wait_for_progress(first, 10)
        first.kill()  # SIGKILL: no signal handler, no cleanup, no last line
        await first.communicate()
        assert first.returncode == -signal.SIGKILL
        server.faults.clear()
        first_lines = _lines(out)
        finished = {r["return_id"] for r in first_lines if r["status"] != "pending"}
        in_flight = {r["return_id"] for r in first_lines if r["status"] == "pending"} - finished
        assert finished  # the first run got somewhere (progress counts a few not yet written)
        assert in_flight  # the kill caught requests between their pending line and their outcome

        second = await _start_cli(children, *common, api_key=SECRET)
        _, err = await second.communicate()
        assert second.returncode == 1, err.decode()  # the in-flight ones are unknown: a human checks them
        assert f"{len(in_flight)} rows have an unknown outcome".encode() in err

    records = _outcomes(out)
    assert Counter(r["return_id"] for r in records) == Counter(ids)  # exactly one final outcome per row
    by_id = {r["return_id"]: r for r in records}
    assert {rid for rid, r in by_id.items() if r["status"] == "unknown"} == in_flight
    assert all(by_id[rid]["error"]["code"] == "interrupted" for rid in in_flight)  # type: ignore[index]
    assert all(server.side_effects[("note", rid)] <= 1 for rid in ids)  # nothing was done twice
    assert all(server.side_effects[("note", rid)] == 1 for rid, r in by_id.items() if r["status"] == "ok")


async def test_repeated_ids_are_separate_rows_for_notes_and_done_once_for_close(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        a, b = server.seed_return(), server.seed_return()
        notes = tmp_path / "notes.csv"
        notes.write_text(f"return_id,text\n{a},first\n{b},only\n{a},second\n")
        out = tmp_path / "notes.jsonl"
        common = ["-o", str(out), "--base-url", str(server.url), "--rate", "0"]
        proc = await _start_cli(children, "note", "-i", str(notes), *common, api_key=SECRET)
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert [n.content for n in server.returns[a].notes] == ["first", "second"]  # both rows, not one
        again = await _start_cli(children, "note", "-i", str(notes), *common, api_key=SECRET)
        _, err = await again.communicate()
        assert b"nothing to do" in err  # resumed by row: neither note is added again
        assert server.side_effects[("note", a)] == 2

        ids = tmp_path / "close.csv"
        ids.write_text(f"return_id\n{a}\n{b}\n{a}\n")
        out_close = tmp_path / "close.jsonl"
        proc = await _start_cli(
            children, "close", "-i", str(ids), "-o", str(out_close), "--base-url", str(server.url), api_key=SECRET
        )
        _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert (
        f"1 rows repeat a return id of an earlier row; close is done once per return, so they are skipped: {a} (line 4)".encode()
        in err
    )
    assert Counter(r["return_id"] for r in _outcomes(out_close)) == Counter([a, b])
    assert server.side_effects[("close", a)] == 1


@pytest.mark.parametrize("scopes", [(), ("Orders",)], ids=["bad-key", "key-without-returns-scope"])
async def test_a_refused_key_stops_the_run_after_the_first_answers(
    tmp_path: Path, children: list[asyncio.subprocess.Process], scopes: tuple[str, ...]
) -> None:
    api_keys = {"sk_other_KEY": ALL_SCOPES} if not scopes else {SECRET: scopes}
    async with FakeLoopServer(api_keys=api_keys) as server:
        ids = [server.seed_return() for _ in range(300)]
        source = tmp_path / "ids.csv"
        source.write_text("return_id\n" + "".join(f"{rid}\n" for rid in ids))
        out = tmp_path / "out.jsonl"
        proc = await _start_cli(
            children, "process", "-i", str(source), "-o", str(out), "--base-url", str(server.url),
            "--concurrency", "4", "--rate", "0", api_key=SECRET,
        )  # fmt: skip
        stdout, err = await proc.communicate()
        reached = sum(server.request_counts.values())
    assert proc.returncode == 3
    assert 1 <= reached <= 4  # what was in flight when the first 401 came back, nothing after it
    text = err.decode()
    assert "check the key" in text and "scope" in text
    assert SECRET.encode() not in stdout + err + out.read_bytes()
    outcomes = [r for r in _outcomes(out) if r["status"] != "pending"]
    assert len(outcomes) == reached and all(r["status"] == "failed" for r in outcomes)


async def test_flag_whose_note_fails_is_recorded_partial(
    tmp_path: Path, children: list[asyncio.subprocess.Process]
) -> None:
    async with FakeLoopServer(api_keys={SECRET: ALL_SCOPES}) as server:
        rid = server.seed_return()
        server.faults.inject("status", route="POST /warehouse/return/{return_id}/note", status=422)
        source = tmp_path / "ids.csv"
        source.write_text(f"return_id,reason\n{rid},damaged in transit\n")
        out = tmp_path / "out.jsonl"
        proc = await _start_cli(
            children, "flag", "-i", str(source), "-o", str(out), "--base-url", str(server.url), api_key=SECRET
        )
        _, err = await proc.communicate()
        flagged = server.returns[rid].flagged
    assert flagged  # the flag happened: "failed" would tell the operator a retry is safe
    assert proc.returncode == 1
    [record] = [r for r in _outcomes(out) if r["status"] != "pending"]
    assert record["status"] == "partial"
    assert "1 partial" in err.decode()
    # A re-run does not flag it again.
    again = await _start_cli(
        children, "flag", "-i", str(source), "-o", str(out), "--base-url", str(server.url), api_key=SECRET
    )
    await again.communicate()
    assert [r["status"] for r in _outcomes(out) if r["status"] != "pending"] == ["partial"]
