"""What the generation_data stage must hold: a labelled row for every pose of every CT in the folds."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from components.config import Params
from components.generation.labels import CATEGORIES, PROSTHESIS, UNKNOWN
from components.validation.gate import validate_table

LABEL_COLUMNS = ["ct_id", "patient_id", "fold", "pose", "rx", "ry", "rz", "view", "prosthesis", "sex", "age", "bmi"]


def label_expectations(ct_ids: list[str], n_folds: int) -> list:
    e = gx.expectations
    return [
        e.ExpectTableColumnsToMatchSet(column_set=LABEL_COLUMNS, exact_match=True),
        e.ExpectColumnDistinctValuesToEqualSet(column="ct_id", value_set=list(ct_ids)),
        e.ExpectCompoundColumnsToBeUnique(column_list=["ct_id", "pose"]),
        e.ExpectColumnValuesToBeBetween(column="fold", min_value=1, max_value=n_folds),
        e.ExpectColumnValuesToBeInSet(column="view", value_set=list(CATEGORIES["view"])),
        e.ExpectColumnValuesToBeInSet(column="prosthesis", value_set=list(PROSTHESIS)),
        e.ExpectColumnValuesToBeInSet(column="sex", value_set=[*CATEGORIES["sex"], UNKNOWN]),
        e.ExpectColumnValuesToNotBeNull(column="age"),  # a number, or "unknown": never a silent gap
        e.ExpectColumnValuesToNotBeNull(column="bmi"),
    ]


def validate_generation_labels(table: pd.DataFrame, params: Params) -> None:
    ct_ids = pd.read_csv(params.folds.csv)["ct_id"].tolist()
    validate_table(table.astype({"age": str, "bmi": str}), "generation_labels",
                   label_expectations(ct_ids, params.folds.n_folds), id_column="ct_id",
                   where=f"{params.generation_data.out}/labels.csv")
