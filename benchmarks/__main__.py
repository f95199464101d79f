"""``python -m benchmarks [--quick] [--only CASE ...]``: run the cases, write results/latest.{json,md}
(a quick or partial run writes results/partial.{json,md}, so the full run's figures stay).

Cases run in the issue's order of importance; a case whose SDK part is not importable yet
(fake server, navigator, pool) is reported as skipped with the reason, never silently dropped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import CaseResult, Config
from benchmarks.report import RESULTS, machine, print_result, write


def _transport(cfg: Config) -> CaseResult:
    from benchmarks.case_transport import run_overhead

    return run_overhead(cfg)


def _decode(cfg: Config) -> CaseResult:
    from benchmarks.case_decode import run_decode

    return run_decode(cfg)


def _scaling(cfg: Config) -> CaseResult:
    from benchmarks.case_transport import run_scaling

    return run_scaling(cfg)


def _ratelimit(cfg: Config) -> CaseResult:
    from benchmarks.case_ratelimit import run_ratelimit

    return run_ratelimit(cfg)


def _flows(cfg: Config) -> CaseResult:
    from benchmarks.case_flows import run_flows

    return run_flows(cfg)


def _memory(cfg: Config) -> CaseResult:
    from benchmarks.case_memory import run_memory

    return run_memory(cfg)


def _keys(cfg: Config) -> CaseResult:
    from benchmarks.case_keys import run_keys

    return run_keys(cfg)


#: name -> (title, runner), in report order (the issue's numbering).
CASES: dict[str, tuple[str, Callable[[Config], CaseResult]]] = {
    "transport": ("1. Transport, navigator step, typed read", _transport),
    "decode": ("2. Decode cost", _decode),
    "flows": ("3. Draft flows", _flows),
    "ratelimit": ("4. Rate-limit utilisation", _ratelimit),
    "memory": ("5. Memory", _memory),
    "scaling": ("6. Scaling", _scaling),
    "keys": ("7. Keys per core", _keys),
}


def run_case(name: str, cfg: Config) -> CaseResult:
    """Run one case; a missing SDK part makes a skipped result that says what is missing."""
    title, runner = CASES[name]
    started = time.perf_counter()
    try:
        result = runner(cfg)
    except ImportError as exc:
        result = CaseResult(name, title, skipped=f"not available: {exc}")
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the cases, write and print the results; 0 unless a case crashed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: every case in under a minute")
    parser.add_argument("--only", action="append", choices=list(CASES), metavar="CASE", help=f"one of {list(CASES)}")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="directory for latest.{json,md} (partial.{json,md}: --quick, --only)"
    )
    args = parser.parse_args(argv)
    cfg = Config.quick() if args.quick else Config.full()
    names = [n for n in CASES if not args.only or n in args.only]
    started = time.perf_counter()
    load_at_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None  # how shared the machine was
    results = []
    for name in names:
        print(f"== {CASES[name][0]} ({cfg.name}) ...", flush=True)
        result = run_case(name, cfg)
        print_result(result)
        results.append(result)
    meta = {
        "config": cfg.name,
        "machine": {**machine(), "loadavg_start": load_at_start},
        "seconds": time.perf_counter() - started,
        "finished": time.time(),
    }
    # Only a full run of every case replaces latest.* (the figures the README quotes).
    json_path, md_path = write(results, meta, args.out, "latest" if not (args.quick or args.only) else "partial")
    print(f"wrote {json_path} and {md_path} ({meta['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
