"""The biplanar suite passes sound cases and names the CT whose cases are broken."""

from __future__ import annotations

import pandas as pd
import pytest

from components.validation.biplanar_suite import INDEX_COLUMNS, validate_biplanar
from components.validation.gate import ValidationFailed


def tables(n: int = 3):
    ids = [f"CT{k}" for k in range(n)]
    index = pd.DataFrame([{"ct_id": c, "patient_id": f"P{k}", "fold": k + 1, "path": f"{c}.npz", "n_cases": 4,
                           "sha256": "0" * 64} for k, c in enumerate(ids)], columns=INDEX_COLUMNS)
    stats = pd.DataFrame([{"ct_id": c, "n_volumes": 4, "n_views": 4, "view_min": 0.0, "view_max": 1.0,
                           "hu_min": -1000.0, "body_fraction": 0.4, "flat_views": 0} for c in ids])
    return ids, index, stats


def test_sound_cases_pass():
    ids, index, stats = tables()
    validate_biplanar(index, stats, ids, 4, 7, -1000.0)


@pytest.mark.parametrize("column, value, says", [("flat_views", 1, "flat_views"), ("body_fraction", 0.0, "body_fraction"),
                                                 ("hu_min", -3000.0, "hu_min")])
def test_a_broken_ct_is_named(column, value, says):
    ids, index, stats = tables()
    stats.loc[1, column] = value
    with pytest.raises(ValidationFailed, match=f"(?s){says}.*CT1"):
        validate_biplanar(index, stats, ids, 4, 7, -1000.0)


def test_a_missing_ct_fails_the_index():
    ids, index, stats = tables()
    with pytest.raises(ValidationFailed, match="biplanar/index.csv"):
        validate_biplanar(index.iloc[:2], stats.iloc[:2], ids, 4, 7, -1000.0)
