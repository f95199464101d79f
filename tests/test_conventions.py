"""Conventions users expect: the key from the environment, messages that say what to do, a
command line that behaves (``--version``, ``-v`` anywhere, quiet on a closed pipe, one line for a
port in use, ``fake-server --seed``)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from loop_async import (
    AuthenticationError,
    FieldValidationError,
    LoopClient,
    NotFoundError,
    OutcomeUnknownError,
    RelNotAvailableError,
    TransportError,
)
from loop_async._cli.main import main
from loop_async.testing import ALL_SCOPES, FakeLoopServer


def test_the_key_and_the_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_API_KEY", "sk_env_KEY")
    monkeypatch.setenv("LOOP_BASE_URL", "http://127.0.0.1:9")
    client = LoopClient()
    assert str(client.base_url) == "http://127.0.0.1:9/api/v1"
    assert "sk_env_KEY" not in repr(client)
    monkeypatch.delenv("LOOP_API_KEY")
    with pytest.raises(FieldValidationError) as missing:
        LoopClient()
    assert missing.value.names == ("api_key",)
    assert "LOOP_API_KEY" in str(missing.value) and "LoopClient(api_key)" in str(missing.value)


def test_an_option_of_the_wrong_type_is_a_field_validation_error() -> None:
    with pytest.raises(FieldValidationError) as bad:
        LoopClient("k", rate_limit="fast", max_concurrency="8", max_retries=1.5, reconcile=3)  # type: ignore[arg-type]
    assert set(bad.value.names) == {"rate_limit", "max_concurrency", "max_retries", "reconcile"}


def test_a_missing_rel_suggests_a_typo_fix_never_another_action() -> None:
    assert "Did you mean 'submit-draft-return'" in str(
        RelNotAvailableError("sumbit-draft-return", ["submit-draft-return"])
    )
    refused = str(RelNotAvailableError("submit-draft-return", ["cancel-draft-return", "add-returning-item"]))
    assert "Did you mean" not in refused and "cancel-draft-return" in refused  # listed, not recommended


async def test_messages_say_what_to_do() -> None:
    async with FakeLoopServer(api_keys={"full": ALL_SCOPES, "orders-only": ("Orders",)}) as server:
        rid = server.seed_return()
        async with LoopClient("orders-only", base_url=server.url, rate_limit=None) as loop:
            with pytest.raises(AuthenticationError) as refused:
                await loop.returns.list_notes(rid)
        assert "check the API key" in str(refused.value) and "scope" in str(refused.value)
        async with LoopClient("full", base_url=server.url, rate_limit=None) as loop:
            with pytest.raises(NotFoundError) as missing:
                await loop.returns.get(return_id=424242)
        assert "return_id=424242" in str(missing.value)
        async with LoopClient("full", base_url=server.url, rate_limit=None, timeout=0.2) as loop:
            server.faults.inject("slow_after_read", delay=0.5)
            with pytest.raises(OutcomeUnknownError) as slow:
                await loop.returns.close(rid)
            await server.wait_idle()
        assert "may have taken effect" in str(slow.value) and "may have taken effect" in str(slow.value.error)
    with socket.socket() as probe:  # a port nothing listens on: refused before sending
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with LoopClient("k", base_url=f"http://127.0.0.1:{port}", rate_limit=None, max_retries=2) as loop:
        with pytest.raises(TransportError) as refused_conn:
            await loop.returns.list_notes(1)
    assert refused_conn.value.request_sent is False
    assert "nothing was sent (3 attempts)" in str(refused_conn.value)


def test_version_and_verbose_after_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("loop-async ")
    from loop_async._cli.main import build_parser

    args = build_parser().parse_args(["bulk", "close", "-i", "x.csv", "-vv"])
    assert args.verbose == 2
    assert build_parser().parse_args(["-v", "bulk", "close", "-i", "x.csv"]).verbose == 1


def _cli(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.Popen(
        [sys.executable, "-m", "loop_async", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs
    )


def test_a_closed_pipe_ends_the_output_quietly(tmp_path: Path) -> None:
    source = tmp_path / "ids.csv"
    source.write_text("return_id\n" + "".join(f"{i}\n" for i in range(1, 50_001)))
    with _cli("bulk", "close", "-i", str(source), "--dry-run") as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # like `| head -1`
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait(timeout=60)
    assert b'"dry-run"' in first
    assert b"Traceback" not in err and b"BrokenPipeError" not in err
    assert proc.returncode == 141


def test_a_port_in_use_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["fake-server", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 2


async def test_fake_server_seed_prints_the_ids_of_open_returns() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "loop_async", "fake-server", "--port", "0", "--seed", "3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [(await proc.stdout.readline()).decode().strip() for _ in range(4)]
    finally:
        proc.terminate()
        await proc.communicate()
    assert lines[0] == "return_id"
    assert all(line.isdigit() for line in lines[1:]) and len(set(lines[1:])) == 3


def test_progress_rich_without_rich_says_what_to_install(tmp_path: Path) -> None:
    source = tmp_path / "ids.csv"
    source.write_text("return_id\n1\n")
    out = tmp_path / "out.jsonl"
    code = (
        "import sys; sys.modules['rich'] = None\n"  # as if the `cli` extra were not installed
        "from loop_async._cli.main import main\n"
        f"sys.exit(main(['bulk', 'close', '-i', {str(source)!r}, '-o', {str(out)!r}, '--progress', 'rich',"
        "'--base-url', 'http://127.0.0.1:9', '--timeout', '1']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env={**os.environ, "LOOP_API_KEY": "k"}, timeout=60
    )
    assert b"pip install 'loop-async[cli]'" in done.stderr
