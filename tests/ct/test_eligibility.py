"""Each of the report's eligibility rules, on real files through ingest_series."""

import numpy as np
import pytest

from components.ct.ingest import ingest_series
from tests.conftest import SALT, tiny_ct, write_nifti


def ingest(tmp_path, rules, name, array, **kwargs):
    src = tmp_path / "src"
    path = write_nifti(src / name, array, **kwargs)
    return ingest_series(path, src, tmp_path / "pool" / "ct", rules, 4.0, SALT)


def test_eligible_series_is_accepted_and_written(tmp_path, rules):
    result = ingest(tmp_path, rules, "ok.nii.gz", tiny_ct())
    assert result.accepted, result.reason
    assert (tmp_path / "pool" / result.row["path"]).exists()
    assert result.row["n_slices"] == 130 and result.row["slice_thickness_mm"] == 1.5


@pytest.mark.parametrize("n_slices, ok", [(49, False), (50, True)])
def test_minimum_slice_count(tmp_path, rules, n_slices, ok):
    # 1 mm slices: thickness is legal, so the count rule decides (coverage fails either way).
    result = ingest(tmp_path, rules, "s.nii.gz", tiny_ct((n_slices, 32, 32)), spacing=(10.0, 10.0, 1.0),
                    meta={"SliceThickness": 1.0})
    reasons = result.reason or ""
    assert ("fewer than 50" in reasons) is not ok


@pytest.mark.parametrize("thickness, ok", [(1.5, True), (1.6, False), (3.0, False)])
def test_maximum_slice_thickness_from_header(tmp_path, rules, thickness, ok):
    result = ingest(tmp_path, rules, "t.nii.gz", tiny_ct(), meta={"SliceThickness": thickness})
    assert result.accepted is ok
    if not ok:
        assert f"slice thickness {thickness:g} mm exceeds 1.5 mm" in result.reason


def test_slice_thickness_falls_back_to_spacing(tmp_path, rules):
    result = ingest(tmp_path, rules, "t.nii.gz", tiny_ct((70, 32, 32)), spacing=(10.0, 10.0, 3.0))
    assert "slice thickness 3 mm exceeds" in result.reason


def test_whole_pelvis_coverage_proxy(tmp_path, rules):
    result = ingest(tmp_path, rules, "short.nii.gz", tiny_ct((100, 32, 32)))  # 150 mm
    assert "covers 150 mm head-foot" in result.reason


def test_both_hips_in_field_of_view(tmp_path, rules):
    result = ingest(tmp_path, rules, "narrow.nii.gz", tiny_ct(), spacing=(6.0, 6.0, 1.5))  # 192 mm
    assert "field of view 192 mm left-right" in result.reason


@pytest.mark.parametrize("degrees, ok", [(5.0, True), (30.0, False)])
def test_axial_only(tmp_path, rules, degrees, ok):
    a = np.deg2rad(degrees)  # slices tilted about the left-right axis (gantry tilt)
    direction = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])
    result = ingest(tmp_path, rules, "tilt.nii.gz", tiny_ct(), direction=direction)
    assert result.accepted is ok
    if not ok:
        assert "not axial" in result.reason and "30°" in result.reason


def test_sagittal_series_is_not_axial(tmp_path, rules):
    direction = np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float)
    result = ingest(tmp_path, rules, "sag.nii.gz", tiny_ct((40, 130, 32)), spacing=(10.0, 1.5, 8.0),
                    direction=direction)
    assert "not axial: slice normal is 90°" in result.reason


def test_all_failing_rules_are_reported_together(tmp_path, rules):
    result = ingest(tmp_path, rules, "bad.nii.gz", tiny_ct((40, 32, 32)), spacing=(10.0, 10.0, 2.0))
    assert "fewer than 50" in result.reason and "exceeds 1.5 mm" in result.reason
    assert "covers 80 mm" in result.reason


def test_thresholds_come_from_the_rules(tmp_path, rules):
    from dataclasses import replace

    strict = replace(rules, min_slices=200)
    result = ingest(tmp_path, strict, "ok.nii.gz", tiny_ct())
    assert "130 slices, fewer than 200" in result.reason
