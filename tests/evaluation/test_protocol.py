"""Pair sampling spreads over patients; paired differences have the sign the method earns."""

import numpy as np
import pandas as pd

from components.evaluation.protocol import paired_differences, sample_pairs, summarise
from tests.params import protocol


def poses(rng, n=21):
    return rng.integers(-15, 16, (n, 3)).astype(np.float32)


def test_pairs_per_bin_round_robin_over_patients_and_seeded():
    rng = np.random.default_rng(0)
    ct_poses = {f"ct{k}": poses(rng) for k in range(6)}
    patients = {f"ct{k}": f"p{k // 2}" for k in range(6)}  # 3 patients, 2 CTs each
    pairs = sample_pairs(ct_poses, patients, (0, 5, 10, 15), 30, seed=1)
    assert pairs == sample_pairs(ct_poses, patients, (0, 5, 10, 15), 30, seed=1)
    by_bin = pd.DataFrame([p.__dict__ for p in pairs]).groupby("bin")
    for _, group in by_bin:
        counts = group["patient_id"].value_counts()
        assert len(group) == 30 and counts.max() - counts.min() <= 1
        assert group[["ct_id", "source", "target"]].duplicated().sum() == 0


def rows(method, offset, rng, n=40):
    patient = np.repeat([f"p{k}" for k in range(4)], n // 4)
    base = rng.normal(5, 1, n)
    return pd.DataFrame({"domain": "drr", "method": method, "bin": "5-10", "ct_id": patient, "patient_id": patient,
                         "source": np.arange(n), "target": np.arange(n) + 1, "rotation_error_deg": base + offset})


def test_paired_difference_excludes_zero_for_a_consistent_gain():
    rng = np.random.default_rng(0)
    a, b = rows("model", 0.0, rng), rows("identity", 0.0, np.random.default_rng(0))
    a["rotation_error_deg"] -= 1.0 + np.random.default_rng(5).normal(0, 0.1, len(a))  # 1° better on each pair
    table = pd.concat([a, b])
    diff = paired_differences(table, "model", "identity", protocol(bootstrap=500))["drr"]["all"]
    assert diff["rotation_error_deg_hi"] < 0 and abs(diff["rotation_error_deg"] + 1.0) < 0.1
    summary = summarise(table, protocol(bootstrap=500))
    cell = summary["drr"]["model"]["5-10"]
    assert cell["n"] == 40 and cell["patients"] == 4
    assert cell["rotation_error_deg_lo"] <= cell["rotation_error_deg"] <= cell["rotation_error_deg_hi"]
