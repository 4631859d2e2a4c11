"""What a CT pool manifest must hold: the report's rules, unique ids, target spacing."""

from __future__ import annotations

import great_expectations as gx
import pandas as pd

from components.ct.eligibility import Eligibility
from components.ct.ingest import MANIFEST_COLUMNS
from components.validation.gate import validate_table

SPACING_TOLERANCE_MM = 1e-3


def manifest_expectations(rules: Eligibility, spacing_mm: float) -> list:
    e = gx.expectations
    spacing = [e.ExpectColumnValuesToBeBetween(column=f"spacing_{axis}_mm",
                                               min_value=spacing_mm - SPACING_TOLERANCE_MM,
                                               max_value=spacing_mm + SPACING_TOLERANCE_MM)
               for axis in "xyz"]
    return [
        e.ExpectTableColumnsToMatchSet(column_set=MANIFEST_COLUMNS, exact_match=True),
        e.ExpectTableRowCountToBeBetween(min_value=1),
        e.ExpectColumnValuesToBeUnique(column="ct_id"),
        e.ExpectColumnValuesToNotBeNull(column="ct_id"),
        e.ExpectColumnValuesToNotBeNull(column="patient_id"),
        e.ExpectColumnValuesToMatchRegex(column="patient_id", regex=r"^P[0-9a-f]{12}$"),
        e.ExpectColumnValuesToMatchStrftimeFormat(column="acquisition_date", strftime_format="%Y-%m-%d"),
        e.ExpectColumnValuesToBeBetween(column="n_slices", min_value=rules.min_slices),
        e.ExpectColumnValuesToBeBetween(column="slice_thickness_mm", min_value=0,
                                        max_value=rules.max_slice_thickness_mm),
        e.ExpectColumnValuesToBeBetween(column="z_extent_mm", min_value=rules.min_z_extent_mm),
        e.ExpectColumnValuesToBeBetween(column="hu_body_median", min_value=rules.body_median_hu[0],
                                        max_value=rules.body_median_hu[1]),
        *spacing,
    ]


def validate_manifest(manifest: pd.DataFrame, rules: Eligibility, spacing_mm: float,
                      where: str = "pool/manifest.csv") -> None:
    validate_table(manifest, "ct_pool_manifest", manifest_expectations(rules, spacing_mm),
                   id_column="ct_id", where=where)
