"""Patient-grouped, stratified folds and their gate."""

import pandas as pd
import pytest

from components.data.folds import assign_folds, choose_strata, ct_ids_in_folds, role_map
from components.validation.folds_suite import validate_folds
from components.validation.gate import ValidationFailed


def manifest(n_patients=20, per_patient=2, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for s in range(int(rng.integers(1, per_patient + 1))):
            rows.append({"ct_id": f"CT{p:03d}{s}", "patient_id": f"P{p:03d}",
                         "acquisition_date": f"{rng.integers(2000, 2019)}-0{rng.integers(1, 10)}-15",
                         "n_slices": int(rng.integers(60, 400)),
                         "slice_thickness_mm": float(rng.choice([0.8, 1.0, 1.25, 1.5]))})
    return pd.DataFrame(rows)


def test_every_ct_once_patients_never_split_roles_as_the_report():
    m = manifest(40, 3)
    folds = assign_folds(m, 7, seed=0, roles=role_map([1, 2, 3, 4, 5], 6, 7))
    assert sorted(folds["ct_id"]) == sorted(m["ct_id"])
    assert folds.groupby("patient_id")["fold"].nunique().max() == 1
    assert set(folds["fold"]) == set(range(1, 8))
    assert set(folds.loc[folds["fold"] == 6, "role"]) == {"val"}
    assert set(folds.loc[folds["fold"] == 7, "role"]) == {"test"}
    validate_folds(folds, m, 7, 0.5)


def test_deterministic_for_a_seed():
    m = manifest(30)
    assert assign_folds(m, 7, seed=1).equals(assign_folds(m, 7, seed=1))
    assert not assign_folds(m, 7, seed=1)["fold"].equals(assign_folds(m, 7, seed=2)["fold"])


def test_large_pools_use_all_three_strata_small_ones_coarsen():
    assert choose_strata(manifest(400, 1), 7)[0] == ("year", "slices", "thickness")
    features, _ = choose_strata(manifest(8, 1), 7)
    assert len(features) < 3


def test_stratification_spreads_years():
    m = manifest(210, 1, seed=3)
    folds = assign_folds(m, 7, seed=0).merge(m, on=["ct_id", "patient_id"])
    years = pd.to_datetime(folds["acquisition_date"]).dt.year
    per_fold_median = years.groupby(folds["fold"]).median()
    assert per_fold_median.max() - per_fold_median.min() <= 4


def test_too_few_patients_is_a_clear_error():
    with pytest.raises(ValueError, match="5 patients cannot fill 7"):
        assign_folds(manifest(5, 1), 7)


def test_gate_names_a_patient_split_across_folds():
    m = manifest(14, 1)
    folds = assign_folds(m, 7, seed=0)
    extra = folds.iloc[[0]].assign(ct_id="CTextra", fold=(folds.iloc[0]["fold"] % 7) + 1)
    m2 = pd.concat([m, m.iloc[[0]].assign(ct_id="CTextra", patient_id=folds.iloc[0]["patient_id"])])
    with pytest.raises(ValidationFailed, match=f"n_folds=2 patient_id={folds.iloc[0]['patient_id']}"):
        validate_folds(pd.concat([folds, extra]), m2, 7, 0.5)


def test_gate_names_a_missing_ct_and_unbalanced_folds():
    m = manifest(14, 1)
    folds = assign_folds(m, 7, seed=0)
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_equal"):
        validate_folds(folds.iloc[1:], m, 7, 0.5)
    lopsided = folds.assign(fold=[1] * 8 + list(range(2, 2 + len(folds) - 8)))
    with pytest.raises(ValidationFailed, match="fold sizes"):
        validate_folds(lopsided, m, 7, 0.1)


def test_ct_ids_in_folds_reads_the_table(tmp_path):
    m = manifest(30)
    folds = assign_folds(m, 7, seed=0)
    folds.to_csv(tmp_path / "folds.csv", index=False)
    train = ct_ids_in_folds(tmp_path / "folds.csv", [1, 2, 3, 4, 5])
    test = ct_ids_in_folds(tmp_path / "folds.csv", ["7"])
    assert train == sorted(folds.loc[folds["fold"] <= 5, "ct_id"]) and not set(train) & set(test)
    assert test == sorted(folds.loc[folds["fold"] == 7, "ct_id"])
