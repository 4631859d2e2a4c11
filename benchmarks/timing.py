"""Timing the benchmarks share: medians of interleaved rounds after a warm-up of each variant."""

from __future__ import annotations

import statistics
import time


def interleaved(variants: dict, repeat: int) -> dict[str, float]:
    """Median seconds of each callable, after one warm-up each, the rounds interleaving them (a noisy machine
    slows every variant of a round alike)."""
    for run in variants.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}
