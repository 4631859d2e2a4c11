"""The generation_data suite accepts the stage's table and names what a broken one breaks."""

import pandas as pd
import pytest

from components.validation.gate import ValidationFailed, validate_table
from components.validation.generation_suite import LABEL_COLUMNS, label_expectations


def table() -> pd.DataFrame:
    rows = [{"ct_id": f"CT{k}", "patient_id": f"P{k}", "fold": 1 + k % 7, "pose": p, "rx": 0.0, "ry": 0.0,
             "rz": 10.0 * p, "view": "oblique" if p else "ap", "prosthesis": "left" if k == 1 else "none",
             "sex": "f" if k else "unknown", "age": "unknown" if k == 2 else "61", "bmi": "27.5"}
            for k in range(3) for p in range(2)]
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def check(frame: pd.DataFrame, ct_ids=("CT0", "CT1", "CT2")) -> None:
    validate_table(frame, "generation_labels", label_expectations(list(ct_ids), 7), id_column="ct_id",
                   where="generation/labels.csv")


def test_the_stage_table_passes():
    check(table())


@pytest.mark.parametrize("breakage, named", [
    (lambda t: t.assign(view=t["view"].replace("oblique", "lateral")), "view"),
    (lambda t: t.assign(prosthesis="yes"), "prosthesis"),
    (lambda t: t.assign(sex=t["sex"].replace("f", "female")), "sex"),
    (lambda t: t.assign(age=None), "age"),
    (lambda t: pd.concat([t, t.head(1)], ignore_index=True), "pose"),
    (lambda t: t[t["ct_id"] != "CT2"], "ct_id"),
])
def test_a_broken_table_is_refused_naming_the_column(breakage, named):
    with pytest.raises(ValidationFailed, match=named):
        check(breakage(table()))
