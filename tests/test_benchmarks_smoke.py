"""The benchmark harness runs end to end with minimal sizes, so it cannot rot.

Structure only: every case produces its table, targets and notes; nothing here asserts a
timing (the machines are shared, and a smoke run measures nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import CASES, main, run_case
from benchmarks.harness import CaseResult, Config
from benchmarks.report import markdown, write
from benchmarks.servers import fake_server_available

SMOKE = Config.smoke()
NEEDS_FAKE = {"flows", "ratelimit", "memory"}


def check_result(result: CaseResult, name: str) -> None:
    assert result.case == name
    assert result.skipped is None, result.skipped
    assert result.rows, "a case must produce rows"
    for row in result.rows:
        assert set(result.columns) <= set(row), f"row lacks columns: {set(result.columns) - set(row)}"
    assert all(t.name and t.limit is not None for t in result.targets)
    assert result.seconds > 0


@pytest.mark.parametrize("name", list(CASES))
def test_case_runs_with_minimal_sizes(name: str) -> None:
    if name in NEEDS_FAKE and fake_server_available():
        pytest.skip(fake_server_available() or "")
    result = run_case(name, SMOKE)
    check_result(result, name)
    if name == "transport":
        clients = {row["client"] for row in result.rows}
        assert clients == {
            "aiohttp+json",
            "aiohttp+orjson",
            "aiohttp+json+walk",
            "LoopClient.request",
            "navigator step",
            "typed read",
        }
        assert {row["concurrency"] for row in result.rows} == set(SMOKE.concurrencies)
        baseline = [row for row in result.rows if row["client"] == "aiohttp+json"]
        assert all(row["ratio_vs_baseline"] == 1 for row in baseline)
        assert all(row["ratio_spread"] for row in result.rows)
        assert len(result.targets) == 3 * len(SMOKE.concurrencies)  # navigator step, typed read, transport
    elif name == "scaling":
        assert sorted({row["n"] for row in result.rows}) == sorted(SMOKE.scaling_ns)
    elif name == "decode":
        assert {row["decoder"] for row in result.rows} >= {"json.loads", "orjson.loads"}
        assert [t.name for t in result.targets] == ["SDK decode / orjson.loads"]
    elif name == "ratelimit":
        assert [row["scenario"] for row in result.rows] == ["1 key", f"{SMOKE.many_keys} keys"]
        assert all(row["server_429s"] >= 0 for row in result.rows)
        assert result.rows[1]["failed"] == 0
    elif name == "flows":
        assert {row["client"] for row in result.rows} == {"aiohttp+orjson", "LoopClient navigator"}
        assert all(row["req_per_flow"] == 7 for row in result.rows)
    elif name == "keys":
        [row] = result.rows
        assert row["keys"] == SMOKE.keys
        assert row["failed"] == 0
        assert row["keys_per_core"] > 0
        assert [t.name for t in result.targets] == ["keys per core at full rate"]
    elif name == "memory":
        assert [row["measure"] for row in result.rows] == ["peak RSS", "tracemalloc"]
        assert all(row["flows"] == SMOKE.memory_flows for row in result.rows)
        assert all(row["max_pending"] >= 1 for row in result.rows)


def test_results_are_written_as_json_and_markdown(tmp_path: Path) -> None:
    done = CaseResult("decode", "2. Decode", ["decoder", "us"], rows=[{"decoder": "x", "us": 1.5}], seconds=0.1)
    skipped = CaseResult("flows", "3. Draft flows", skipped="not available: no fake server")
    meta = {
        "config": "smoke",
        "machine": {
            "nproc": 2,
            "cpu_model": "cpu",
            "python": "3.11",
            "implementation": "CPython",
            "aiohttp": "3",
            "loadavg": None,
        },
        "seconds": 0.2,
    }
    json_path, md_path = write([done, skipped], meta, tmp_path)
    data = json.loads(json_path.read_text())
    assert [case["case"] for case in data["cases"]] == ["decode", "flows"]
    assert data["cases"][1]["skipped"].startswith("not available")
    text = md_path.read_text()
    assert "| decoder | us |" in text and "Skipped: not available" in text
    assert text == markdown([done, skipped], meta) + "\n"


def test_cli_runs_one_case_and_writes_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--quick", "--only", "decode", "--out", str(tmp_path)]) == 0
    assert not (tmp_path / "latest.json").exists()  # a quick, partial run never replaces the full run's figures
    data = json.loads((tmp_path / "partial.json").read_text())
    assert data["config"] == "quick"
    assert [case["case"] for case in data["cases"]] == ["decode"]
    assert data["machine"]["nproc"] >= 1
    assert "Decode cost" in capsys.readouterr().out
