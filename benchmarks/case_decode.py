"""Case 2: decode cost of the reference draft-return payload, against the JSON parsers alone.

``SDK decode`` is what the SDK does with a body: ``loop_async._sansio.json.loads`` then
``structure(..., DraftReturnResponse)``. ``structure only`` is the model step on already
parsed data. Each figure is the median over interleaved repetitions of the mean of
``decode_number`` calls (after a warm-up); the target compares the full SDK decode with ``orjson.loads``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from benchmarks.harness import CaseResult, Config, Target, median, spread
from benchmarks.servers import PAYLOAD_PATH
from loop_async._sansio import json as _json
from loop_async.models import DraftReturnResponse
from loop_async.models._convert import structure

DECODE_TARGET = 2.5


def _sample(fn: Callable[[], Any], number: int) -> float:
    """Mean µs per call over ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def time_per_call(candidates: dict[str, Callable[[], Any]], number: int, reps: int) -> dict[str, list[float]]:
    """µs per call of each candidate, one sample per repetition; samples interleaved so noise hits all alike."""
    for fn in candidates.values():
        _sample(fn, max(10, number // 10))  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(reps):
        for name, fn in candidates.items():
            samples[name].append(_sample(fn, number))
    return samples


def run_decode(cfg: Config) -> CaseResult:
    """µs per decode: json.loads, orjson.loads, the SDK's structure step, and the SDK's whole decode."""
    body = PAYLOAD_PATH.read_bytes()
    parsed = orjson.loads(body)
    candidates: dict[str, Callable[[], Any]] = {
        "json.loads": lambda: json.loads(body),
        "orjson.loads": lambda: orjson.loads(body),
        "structure only": lambda: structure(parsed, DraftReturnResponse),
        "SDK decode (loads + structure)": lambda: structure(_json.loads(body), DraftReturnResponse),
    }
    reps = max(cfg.reps * 3, 5)
    samples = time_per_call(candidates, cfg.decode_number, reps)
    timings = {name: median(values) for name, values in samples.items()}
    result = CaseResult(
        "decode",
        f"2. Decode cost (reference payload, {len(body)} bytes)",
        ["decoder", "us_per_decode", "x_orjson_loads", "x_orjson_spread", "x_json_loads"],
    )
    for name, us in timings.items():
        # Paired per repetition: each sample against the orjson sample taken next to it.
        ratios = [a / b for a, b in zip(samples[name], samples["orjson.loads"], strict=True)]
        result.rows.append(
            {
                "decoder": name,
                "us_per_decode": round(us, 2),
                "x_orjson_loads": round(median(ratios), 2),
                "x_orjson_spread": spread(ratios),
                "x_json_loads": round(us / timings["json.loads"], 2),
            }
        )
    sdk = next(row for row in result.rows if row["decoder"] == "SDK decode (loads + structure)")
    result.targets.append(Target("SDK decode / orjson.loads", sdk["x_orjson_loads"], DECODE_TARGET, False))
    result.notes.append(f"{cfg.decode_number} decodes per sample, median of {reps} samples, after a warm-up.")
    return result
