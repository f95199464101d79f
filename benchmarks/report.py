"""Writes ``results/latest.json`` and ``results/latest.md`` and prints the tables."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import CaseResult

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The machine the run was on: cores, CPU model, Python, and the load average at the end."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiohttp

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "aiohttp": aiohttp.__version__,
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _load(values: list[float] | None) -> str:
    return "unknown" if not values else "/".join(f"{v:.2f}" for v in values)


def case_markdown(result: CaseResult) -> list[str]:
    """One case: its table, then its targets and notes (or why it was skipped)."""
    lines = [f"## {result.title}", ""]
    if result.skipped:
        return [*lines, f"Skipped: {result.skipped}", ""]
    if result.rows:
        lines.append("| " + " | ".join(result.columns) + " |")
        lines.append("|" + "---|" * len(result.columns))
        for row in result.rows:
            lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in result.columns) + " |")
        lines.append("")
    for t in result.targets:
        op = ">=" if t.at_least else "<="
        lines.append(f"- Target {t.name} {op} {t.limit:g}: measured {t.value:g} — **{'met' if t.met else 'MISSED'}**")
    lines += [f"- {note}" for note in result.notes]
    return [*lines, f"- Case time: {result.seconds:.1f} s", ""]


def markdown(results: list[CaseResult], meta: dict[str, Any]) -> str:
    """All cases as Markdown: one table per case, then its targets and notes."""
    m = meta["machine"]
    lines = [
        f"# Benchmark results ({meta['config']} run)",
        "",
        f"Machine: {m['nproc']} cores, {m['cpu_model']}, {m['implementation']} {m['python']}, "
        f"aiohttp {m['aiohttp']}; load average (1, 5, 15 min) at the start {_load(m.get('loadavg_start'))}, "
        f"at the end {_load(m['loadavg'])}. Total {meta['seconds']:.0f} s.",
        "",
    ]
    for result in results:
        lines += case_markdown(result)
    return "\n".join(lines)


def write(
    results: list[CaseResult], meta: dict[str, Any], directory: Path = RESULTS, name: str = "latest"
) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / f"{name}.json", directory / f"{name}.md"
    payload = {**meta, "cases": [r.to_json() for r in results]}
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path.write_text(markdown(results, meta) + "\n")
    return json_path, md_path


def print_result(result: CaseResult) -> None:
    """Print one case as soon as it is done."""
    sys.stdout.write("\n".join(case_markdown(result)) + "\n")
    sys.stdout.flush()
