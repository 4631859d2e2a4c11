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


def test_4d_volume(tmp_path, rules):
    import nibabel as nib

    path = tmp_path / "src" / "fmri.nii.gz"
    path.parent.mkdir(parents=True)
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 60, 3), np.int16), np.eye(4)), path)
    write_nifti(tmp_path / "side.nii", tiny_ct((2, 2, 2)))  # just for its sidecar
    path.with_name("fmri.json").write_text((tmp_path / "side.json").read_text())
    assert "4D volume" in run(tmp_path, rules, path)


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


def test_nifti_without_sidecar(tmp_path, rules):
    path = write_nifti(tmp_path / "src" / "anon.nii.gz", tiny_ct(), meta=False)
    assert "no metadata sidecar anon.json" in run(tmp_path, rules, path)


@pytest.mark.parametrize("meta", [{"AcquisitionDate": "sometime"}, {"PatientID": ""}])
def test_sidecar_missing_fields(tmp_path, rules, meta):
    path = write_nifti(tmp_path / "src" / "m.nii.gz", tiny_ct(), meta=meta)
    assert "lacks PatientID or a parseable AcquisitionDate" in run(tmp_path, rules, path)
