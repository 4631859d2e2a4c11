"""What folds.csv must hold: every pool CT once, no patient in two folds, balanced folds."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from components.data.folds import FOLD_COLUMNS
from components.validation.gate import validate_table


def validate_folds(folds: pd.DataFrame, manifest: pd.DataFrame, n_folds: int, size_tolerance: float,
                   where: str = "folds/folds.csv") -> None:
    """`size_tolerance`: each fold holds mean ± max(2, tolerance·mean) CTs."""
    e = gx.expectations
    validate_table(folds, "folds", [
        e.ExpectTableColumnsToMatchSet(column_set=FOLD_COLUMNS, exact_match=True),
        e.ExpectTableRowCountToEqual(value=len(manifest)),
        e.ExpectColumnValuesToBeUnique(column="ct_id"),
        e.ExpectColumnValuesToBeInSet(column="ct_id", value_set=manifest["ct_id"].tolist()),
        e.ExpectColumnValuesToBeBetween(column="fold", min_value=1, max_value=n_folds),
        e.ExpectColumnValuesToNotBeNull(column="patient_id"),
    ], id_column="ct_id", where=where)

    per_patient = folds.groupby("patient_id")["fold"].nunique().rename("n_folds").reset_index()
    validate_table(per_patient, "folds_patient_grouping", [
        e.ExpectColumnValuesToBeBetween(column="n_folds", min_value=1, max_value=1),
    ], id_column="patient_id", where=f"{where} (patients in more than one fold)")

    sizes = (folds["fold"].value_counts().reindex(range(1, n_folds + 1), fill_value=0)
             .rename_axis("fold").rename("n_ct").reset_index())
    mean = len(folds) / n_folds
    slack = max(2.0, size_tolerance * mean)
    validate_table(sizes, "folds_balance", [
        e.ExpectTableRowCountToEqual(value=n_folds),
        e.ExpectColumnValuesToBeBetween(column="n_ct", min_value=max(1.0, mean - slack), max_value=mean + slack),
    ], id_column="fold", where=f"{where} (fold sizes)")
