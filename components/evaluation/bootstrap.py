"""Intervals that respect how the test set was drawn: patients, then pairs within patients.

Pairs of one patient share anatomy (and CTs), so they are not independent: an
interval that resamples pairs alone is too narrow. The hierarchical bootstrap
resamples patients with replacement, then pairs within each drawn patient with
replacement, and takes the mean over every drawn pair; the interval is the
percentile interval of that mean. A paired difference (model − identity on the
same pairs, challenger − champion) is bootstrapped the same way, on the per-pair
differences. Every draw comes from a generator seeded by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float
    n: int  # pairs
    groups: int  # patients

    def excludes_zero(self) -> bool:
        return self.lo > 0 or self.hi < 0

    def to_dict(self, name: str) -> dict:
        return {name: self.mean, f"{name}_lo": self.lo, f"{name}_hi": self.hi}


def hierarchical_bootstrap(values, groups, n_boot: int = 2000, confidence: float = 0.95,
                           seed: int = 0) -> Interval:
    """Mean of `values` with a percentile interval from resampling `groups`, then values within them.

    NaN values are dropped first. With one group the interval resamples values only (and says so by
    `groups == 1`); with no values the result is all NaN.
    """
    values, groups = np.asarray(values, float), np.asarray(groups)
    keep = ~np.isnan(values)
    values, groups = values[keep], groups[keep]
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0)
    names, codes = np.unique(groups, return_inverse=True)
    members = [values[codes == k] for k in range(len(names))]
    rng = np.random.default_rng(seed)
    chosen = rng.integers(len(members), size=(n_boot, len(members)))  # patients drawn per resample
    totals, counts = np.zeros(n_boot), np.zeros(n_boot)
    for slot in range(len(members)):
        for k, m in enumerate(members):
            rows = np.flatnonzero(chosen[:, slot] == k)
            if len(rows):  # a fresh resample of patient k's pairs for each time it is drawn
                totals[rows] += m[rng.integers(len(m), size=(len(rows), len(m)))].sum(1)
                counts[rows] += len(m)
    means = totals / counts
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(values.mean()), float(lo), float(hi), int(len(values)), int(len(names)))


def row_differences(a: pd.DataFrame, b: pd.DataFrame, measures, keys: list[str], n_boot: int, confidence: float,
                    seed: int) -> dict:
    """{measure: {mean, lo, hi}} of a − b row by row, rows matched on `keys` (the same cases, images or
    pairs on both sides; anything else is refused), the interval over patients, then rows."""
    a, b = (r.sort_values(keys).reset_index(drop=True) for r in (a, b))
    if not a[keys].equals(b[keys]):
        raise ValueError(f"paired differences need the same {', '.join(keys)} on both sides")
    out = {}
    for measure in measures:
        i = hierarchical_bootstrap(a[measure] - b[measure], a["patient_id"], n_boot, confidence, seed)
        out[measure] = {"mean": i.mean, "lo": i.lo, "hi": i.hi}
    return out
