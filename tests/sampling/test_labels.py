"""Outputs carry what made them: PNG/TIFF/JPEG text, DICOM Secondary Capture tags, captions on the pixels."""

import io
import json

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from components.sampling.dicom_out import secondary_capture
from components.sampling.labels import MARK, Provenance, read_labels, side_by_side, write_labelled
from components.sampling.radiograph_io import read_radiograph
from tests.sampling.test_radiograph_io import write_dicom

PROVENANCE = Provenance((0.0, -5.0, 10.0), "models:/radrotator@champion (v3)", "ab" * 32, "dpmsolver++", 15, 4.0, 7,
                        "pelvis.dcm", 0.42)


def image(rng=np.random.default_rng(0), shape=(41, 37)):
    return rng.random(shape)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_raster_outputs_carry_angles_model_sampler_seed_and_the_mark(tmp_path, suffix):
    path = write_labelled(tmp_path / f"view{suffix}", image(), 16, PROVENANCE)
    text = " ".join(read_labels(path).values())
    for needed in ("x=+0", "y=-5", "z=+10", "models:/radrotator@champion (v3)", "dpmsolver++ 15 steps", "seed 7",
                   "research use only, not for diagnosis"):
        assert needed in text, (needed, text)
    if suffix == ".png":  # every field, machine-readable
        fields = json.loads(read_labels(path)["Comment"])
        assert fields["angles"] == [0.0, -5.0, 10.0] and fields["domain_score"] == 0.42
        assert read_radiograph(path).bit_depth == 16


def dicom_source(tmp_path):
    return write_dicom(tmp_path / "source.dcm", image() * 4095, PatientID="MRN123", PatientBirthDate="19600101",
                       AccessionNumber="A1", StudyInstanceUID=generate_uid(entropy_srcs=["study"]),
                       SeriesInstanceUID=generate_uid(entropy_srcs=["series"]))


def test_dicom_output_is_a_derived_secondary_capture_in_the_inputs_depth_with_no_patient_data(tmp_path):
    source = read_radiograph(dicom_source(tmp_path))
    assert source.bit_depth == 16 and source.dicom.PatientName == "Doe^Jane"
    view = image(np.random.default_rng(1))
    data = secondary_capture(view, source.bit_depth, PROVENANCE, source.dicom)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert ds.BitsStored == 16 and ds.pixel_array.dtype == np.uint16
    assert np.array_equal(ds.pixel_array, np.rint(view * 65535).astype(np.uint16))
    assert ds.PatientName == "" and ds.PatientID == "" and ds.AccessionNumber == ""
    assert ds.StudyInstanceUID != source.dicom.StudyInstanceUID and "SourceImageSequence" not in ds
    assert MARK in ds.ImageComments and "z=+10°" in ds.SeriesDescription
    assert "MRN123" not in data.decode("latin-1") and "Doe" not in data.decode("latin-1")
    assert secondary_capture(view, source.bit_depth, PROVENANCE, source.dicom) == data  # same request, same file


def test_link_to_source_files_the_view_with_its_study_in_a_new_series(tmp_path):
    source = read_radiograph(dicom_source(tmp_path))
    ds = pydicom.dcmread(io.BytesIO(secondary_capture(image(), 16, PROVENANCE, source.dicom, link_to_source=True)))
    assert ds.PatientName == "Doe^Jane" and ds.PatientID == "MRN123"
    assert ds.StudyInstanceUID == source.dicom.StudyInstanceUID
    assert ds.SeriesInstanceUID != source.dicom.SeriesInstanceUID
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.dicom.SOPInstanceUID
    with pytest.raises(ValueError, match="needs a DICOM input"):
        secondary_capture(image(), 8, PROVENANCE, None, link_to_source=True)


def test_side_by_side_has_both_columns_titled_and_the_mark_below():
    source, rotated = np.zeros((60, 50)), np.ones((60, 50))
    figure = side_by_side(source, rotated, PROVENANCE)
    top = max(10, min(50 // 25, 28)) + 10
    assert figure.shape[1] == 2 * 50 + 4 and figure.shape[0] > 60 + top
    assert figure[:top, :50].max() > 0.5 and figure[:top, 54:].max() > 0.5  # a title over each column
    assert np.all(figure[top:top + 60, 54:] == 1.0) and np.all(figure[top:top + 60, :50] == 0.0)
    assert figure[top + 60:].max() > 0.5  # the caption band holds text
