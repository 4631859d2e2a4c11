"""What the biplanar stage must hold: an index row per pool CT, and sound cases in each file."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from components.validation.gate import validate_table

INDEX_COLUMNS = ["ct_id", "patient_id", "fold", "path", "n_cases", "sha256"]


def index_expectations(pool_ct_ids: list[str], n_cases: int, n_folds: int) -> list:
    e = gx.expectations
    return [
        e.ExpectTableColumnsToMatchSet(column_set=INDEX_COLUMNS, exact_match=True),
        e.ExpectTableRowCountToEqual(value=len(pool_ct_ids)),
        e.ExpectColumnValuesToBeUnique(column="ct_id"),
        e.ExpectColumnValuesToBeInSet(column="ct_id", value_set=list(pool_ct_ids)),
        e.ExpectColumnValuesToBeBetween(column="fold", min_value=1, max_value=n_folds),
        e.ExpectColumnValuesToBeBetween(column="n_cases", min_value=n_cases, max_value=n_cases),
    ]


def case_expectations(air_hu: float) -> list:
    e = gx.expectations
    return [
        e.ExpectColumnPairValuesToBeEqual(column_A="n_volumes", column_B="n_views"),
        e.ExpectColumnValuesToBeBetween(column="view_min", min_value=0.0, max_value=0.0),
        e.ExpectColumnValuesToBeBetween(column="view_max", min_value=1.0, max_value=1.0),
        e.ExpectColumnValuesToBeBetween(column="hu_min", min_value=air_hu - 50, max_value=air_hu + 50),
        e.ExpectColumnValuesToBeBetween(column="body_fraction", min_value=0.05, max_value=0.9),
        e.ExpectColumnValuesToBeBetween(column="flat_views", min_value=0, max_value=0),
    ]


def validate_biplanar(index: pd.DataFrame, statistics: pd.DataFrame, pool_ct_ids: list[str], n_cases: int,
                      n_folds: int, air_hu: float, where: str = "biplanar") -> None:
    validate_table(index, "biplanar_index", index_expectations(pool_ct_ids, n_cases, n_folds), id_column="ct_id",
                   where=f"{where}/index.csv")
    validate_table(statistics, "biplanar_cases", case_expectations(air_hu), id_column="ct_id",
                   where=f"{where} cases")
