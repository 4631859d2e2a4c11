"""Hierarchical bootstrap: seeded, covers the truth, and wider when pairs of a patient move together."""

import numpy as np

from components.evaluation.bootstrap import hierarchical_bootstrap


def draw(rng, patients=5, per=20, patient_sd=1.0, pair_sd=0.5):
    groups = np.repeat(np.arange(patients), per)
    values = rng.normal(0, patient_sd, patients)[groups] + rng.normal(0, pair_sd, patients * per)
    return values, groups


def test_same_seed_same_interval():
    values, groups = draw(np.random.default_rng(0))
    assert hierarchical_bootstrap(values, groups, seed=3) == hierarchical_bootstrap(values, groups, seed=3)


def test_patients_widen_the_interval_over_a_pairs_only_one():
    values, groups = draw(np.random.default_rng(1))
    by_patient = hierarchical_bootstrap(values, groups, seed=0)
    as_one = hierarchical_bootstrap(values, np.zeros_like(groups), seed=0)
    assert by_patient.hi - by_patient.lo > 2 * (as_one.hi - as_one.lo)
    assert by_patient.groups == 5 and by_patient.n == 100


def test_interval_covers_the_true_mean_about_as_often_as_it_says():
    rng = np.random.default_rng(2)
    covered = 0
    for k in range(60):
        values, groups = draw(rng, patients=8, per=10)
        ci = hierarchical_bootstrap(values, groups, n_boot=400, seed=k)
        covered += ci.lo <= 0.0 <= ci.hi
    assert covered >= 45  # nominal 95 %; 8 patients make a percentile interval somewhat narrow


def test_nan_values_are_left_out():
    ci = hierarchical_bootstrap([1.0, np.nan, 3.0], ["a", "a", "b"], seed=0)
    assert ci.n == 2 and ci.mean == 2.0
