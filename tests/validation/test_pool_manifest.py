"""The manifest's Great Expectations gate: passes a good pool, names the rows of a bad one."""

import pandas as pd
import pytest

from components.ct.ingest import MANIFEST_COLUMNS
from components.validation.gate import ValidationFailed
from components.validation.pool_manifest import validate_manifest


def row(ident, **changes):
    ct_id = ident
    base = dict(ct_id=ct_id, patient_id="P0123456789ab", acquisition_date="2012-02-04", site="S",
                source_format="nifti", n_slices=200, slice_thickness_mm=1.0, orig_spacing_x_mm=0.7,
                orig_spacing_y_mm=0.7, orig_spacing_z_mm=1.0, z_extent_mm=200.0, spacing_x_mm=1.0,
                spacing_y_mm=1.0, spacing_z_mm=1.0, shape_x=380, shape_y=280, shape_z=200,
                hu_p01=-1010.0, hu_max=1300.0, has_metal=False, path=f"ct/{ct_id}.nii.gz")
    return {**base, **changes}


def test_good_manifest_passes(rules):
    validate_manifest(pd.DataFrame([row("CTa"), row("CTb")], columns=MANIFEST_COLUMNS), rules, 1.0)


@pytest.mark.parametrize("bad, expectation, shown", [
    (dict(slice_thickness_mm=3.0), "expect_column_values_to_be_between[slice_thickness_mm]", "ct_id=CTbad"),
    (dict(n_slices=20), "expect_column_values_to_be_between[n_slices]", "n_slices=20"),
    (dict(acquisition_date="2012-13-40"), "match_strftime_format[acquisition_date]", "ct_id=CTbad"),
    (dict(spacing_z_mm=1.5), "expect_column_values_to_be_between[spacing_z_mm]", "spacing_z_mm=1.5"),
    (dict(patient_id=None), "expect_column_values_to_not_be_null[patient_id]", "ct_id=CTbad"),
    (dict(ct_id="CTa"), "expect_column_values_to_be_unique[ct_id]", "ct_id=CTa"),
])
def test_bad_rows_are_named(rules, bad, expectation, shown):
    frame = pd.DataFrame([row("CTa"), row("CTbad", **bad)], columns=MANIFEST_COLUMNS)
    with pytest.raises(ValidationFailed) as err:
        validate_manifest(frame, rules, 1.0, where="pool/manifest.csv")
    message = str(err.value)
    assert message.startswith("pool/manifest.csv failed validation suite 'ct_pool_manifest'")
    assert expectation in message and shown in message


def test_unexpected_columns_fail(rules):
    frame = pd.DataFrame([{**row("CTa"), "PatientName": "Doe^Jane"}])
    with pytest.raises(ValidationFailed, match="expect_table_columns_to_match_set"):
        validate_manifest(frame, rules, 1.0)
