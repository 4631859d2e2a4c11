"""Bad input never stops the pool: each lands in rejected.csv with a readable reason."""

import gzip

import numpy as np
import pytest

from components.ct import dicom
from components.ct.ingest import ingest_series
from components.ct.series import discover_sources
from tests.conftest import SALT, tiny_ct, write_nifti


def run(tmp_path, rules, path):
    result = ingest_series(path, tmp_path / "src", tmp_path / "pool" / "ct", rules, 4.0, SALT)
    assert not result.accepted
    assert not list((tmp_path / "pool" / "ct").glob("*")) if (tmp_path / "pool" / "ct").exists() else True
    return result.reason


def test_truncated_nifti(tmp_path, rules):
    path = write_nifti(tmp_path / "src" / "cut.nii.gz", tiny_ct())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    assert "unreadable NIfTI (corrupt or truncated file)" in run(tmp_path, rules, path)


def test_garbage_nifti(tmp_path, rules):
    path = tmp_path / "src" / "junk.nii.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"not an image at all" * 20))
    assert "unreadable NIfTI" in run(tmp_path, rules, path)


def test_2d_image(tmp_path, rules):
    path = write_nifti(tmp_path / "src" / "flat.nii.gz", np.zeros((64, 64), np.float32) - 1000)
    assert "2D image" in run(tmp_path, rules, path)


def test_4d_volume_without_sidecar_is_reported_as_4d(tmp_path, rules):
    import nibabel as nib

    path = tmp_path / "src" / "fmri.nii.gz"
    path.parent.mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 60, 3), np.int16), np.eye(4)), path)  # no sidecar
    reason = run(tmp_path, rules, path)
    assert "4D volume" in reason and "sidecar" not in reason


def test_every_failing_rule_is_reported_together(tmp_path, rules):
    hu = tiny_ct((40, 32, 32)) + 500  # 40 slices, 60 mm head-foot, values shifted off HU
    path = write_nifti(tmp_path / "src" / "bad.nii.gz", hu, spacing=(10.0, 10.0, 1.5))
    path.with_name("bad.json").write_text("{broken")
    reason = run(tmp_path, rules, path)
    for part in ("not valid JSON", "40 slices", "covers 60 mm head-foot", "1st percentile is -500",
                 "body's median is 540"):
        assert part in reason, part


def test_nan_voxels(tmp_path, rules):
    hu = tiny_ct()
    hu[10, 5:8, 5:8] = np.nan
    path = write_nifti(tmp_path / "src" / "nan.nii.gz", hu)
    assert run(tmp_path, rules, path) == "9 NaN voxels"


def test_unsigned_values_are_not_hu(tmp_path, rules):
    path = write_nifti(tmp_path / "src" / "raw.nii.gz", tiny_ct() + 1024, pixel=np.uint16)
    reason = run(tmp_path, rules, path)
    assert "not Hounsfield units" in reason and "RescaleIntercept" in reason


def test_air_far_from_minus_1000(tmp_path, rules):
    path = write_nifti(tmp_path / "src" / "shifted.nii.gz", tiny_ct() + 500)
    assert "1st percentile is -500" in run(tmp_path, rules, path)


def test_dicom_without_rescale_intercept(tmp_path, rules):
    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "src" / "raw",
                                {"PatientID": "X", "AcquisitionDate": "20100101"}, rescale_intercept=0.0)
    # Stored values are HU + 0: air would be -1000 → clipped to 0, the raw-unsigned look.
    assert "not Hounsfield units" in run(tmp_path, rules, folder)


def test_empty_folder_is_found_and_reported(tmp_path, rules):
    empty = tmp_path / "src" / "empty_series"
    empty.mkdir(parents=True)
    assert empty in discover_sources(tmp_path / "src")
    assert run(tmp_path, rules, empty) == "empty folder: no DICOM or NIfTI files"


def test_folder_of_non_dicom_files(tmp_path, rules):
    folder = tmp_path / "src" / "photos"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 300)
    assert "no DICOM files" in run(tmp_path, rules, folder)


def test_truncated_dicom_slice(tmp_path, rules):
    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "src" / "cut",
                                {"PatientID": "X", "AcquisitionDate": "20100101"})
    victim = sorted(folder.iterdir())[60]
    victim.write_bytes(victim.read_bytes()[:400])
    reason = run(tmp_path, rules, folder)
    assert "1 of 130 DICOM files unreadable" in reason and "slice_0060.dcm" in reason


def test_dicom_series_with_a_missing_slice(tmp_path, rules):
    folder = dicom.write_series(tiny_ct(), (10.0, 10.0, 1.5), (0, 0, 0), tmp_path / "src" / "gap",
                                {"PatientID": "X", "AcquisitionDate": "20100101"})
    (folder / "slice_0042.dcm").unlink()  # GDCM would stack the rest as if nothing were missing
    reason = run(tmp_path, rules, folder)
    assert "missing or unevenly spaced slices: 3.00 mm gap after slice_0041.dcm" in reason


def accept(tmp_path, rules, path, pattern=None):
    result = ingest_series(path, tmp_path / "src", tmp_path / "pool" / "ct", rules, 4.0, SALT,
                           patient_pattern=pattern)
    assert result.accepted, result.reason
    return result.row


def test_plain_nifti_without_sidecar_is_accepted_one_patient_per_file(tmp_path, rules):
    a = accept(tmp_path, rules, write_nifti(tmp_path / "src" / "case01_pre.nii.gz", tiny_ct(), meta=False))
    b = accept(tmp_path, rules, write_nifti(tmp_path / "src" / "case01_post.nii.gz", tiny_ct(), meta=False))
    assert a["acquisition_date"] is None and a["patient_id"] != b["patient_id"]


def test_a_pattern_names_the_patient_in_the_file_name(tmp_path, rules):
    pattern = r"(?P<patient>case\d+)_"
    a = accept(tmp_path, rules, write_nifti(tmp_path / "src" / "case01_pre.nii.gz", tiny_ct(), meta=False), pattern)
    b = accept(tmp_path, rules, write_nifti(tmp_path / "src" / "case01_post.nii.gz", tiny_ct(), meta=False), pattern)
    assert a["patient_id"] == b["patient_id"] and a["ct_id"] != b["ct_id"]
    other = write_nifti(tmp_path / "src" / "scan.nii.gz", tiny_ct(), meta=False)
    result = ingest_series(other, tmp_path / "src", tmp_path / "other", rules, 4.0, SALT, patient_pattern=pattern)
    assert not result.accepted and "finds no `patient` group in 'scan'" in result.reason


@pytest.mark.parametrize("meta", [{"AcquisitionDate": "sometime"}, {"PatientID": ""}])
def test_sidecar_without_id_or_date_falls_back_to_the_file(tmp_path, rules, meta):
    row = accept(tmp_path, rules, write_nifti(tmp_path / "src" / "m.nii.gz", tiny_ct(), meta=meta))
    assert row["patient_id"].startswith("P")


def test_clinical_ct_padded_outside_the_reconstruction_circle_is_hu(tmp_path, rules):
    hu = tiny_ct()
    z, y, x = np.indices(hu.shape)
    hu[((x - 15.5) ** 2 + (y - 15.5) ** 2) > 14.5 ** 2] = -2048  # the corners: padding, as scanners write it
    accept(tmp_path, rules, write_nifti(tmp_path / "src" / "padded.nii.gz", hu))


def test_body_filling_the_field_of_view_is_hu(tmp_path, rules):
    hu = tiny_ct()
    hu[hu == -1000] = -90  # no air at all: fat to the edges
    accept(tmp_path, rules, write_nifti(tmp_path / "src" / "big.nii.gz", hu))


def test_values_without_bone_are_not_a_pelvis_ct_in_hu(tmp_path, rules):
    hu = tiny_ct(bone_hu=40.0)
    assert "no bone" in run(tmp_path, rules, write_nifti(tmp_path / "src" / "soft.nii.gz", hu))
