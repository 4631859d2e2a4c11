"""Radiographs people bring: 8/16-bit PNG, RGB JPEG, DICOM (MONOCHROME1, VOI LUT)."""

import imageio.v3 as iio
import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from components.sampling.radiograph_io import read_radiograph, write_image


def gradient(h=40, w=60):
    return np.tile(np.linspace(0, 1, w), (h, 1))


def write_dicom(path, pixels: np.ndarray, photometric="MONOCHROME2", window=None, **tags):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName = "DX", "Doe^Jane"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_png_8_and_16_bit(tmp_path):
    iio.imwrite(tmp_path / "a.png", (gradient() * 255).astype(np.uint8))
    iio.imwrite(tmp_path / "b.png", (gradient() * 65535).astype(np.uint16))
    a, b = read_radiograph(tmp_path / "a.png"), read_radiograph(tmp_path / "b.png")
    assert a.bit_depth == 8 and b.bit_depth == 16
    assert a.pixels.shape == b.pixels.shape == (40, 60) and b.pixels.max() == 65535


def test_rgb_becomes_grey(tmp_path):
    rgb = np.stack([(gradient() * 255).astype(np.uint8)] * 3, -1)
    iio.imwrite(tmp_path / "c.jpg", rgb)
    r = read_radiograph(tmp_path / "c.jpg")
    assert r.pixels.ndim == 2 and abs(r.pixels[:, -1].mean() - 255) < 6


def test_dicom_monochrome1_is_inverted(tmp_path):
    raw = (gradient() * 4095).astype(np.uint16)
    m2 = read_radiograph(write_dicom(tmp_path / "m2.dcm", raw))
    m1 = read_radiograph(write_dicom(tmp_path / "m1.dcm", raw, "MONOCHROME1"))
    assert m2.pixels[0, 0] < m2.pixels[0, -1] and m1.pixels[0, 0] > m1.pixels[0, -1]
    assert m1.bit_depth == 16


def test_dicom_voi_window_is_applied(tmp_path):
    raw = (gradient() * 4095).astype(np.uint16)
    windowed = read_radiograph(write_dicom(tmp_path / "w.dcm", raw, window=(1000, 400)))
    # Values beyond the window saturate: a plateau on the right.
    assert np.sum(windowed.pixels[0] == windowed.pixels[0].max()) > 20


def test_unreadable_input_names_the_file(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="x.png"):
        read_radiograph(tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_radiograph(tmp_path / "missing.png")


def test_write_keeps_bit_depth(tmp_path):
    write_image(tmp_path / "o16.png", gradient(), 16)
    write_image(tmp_path / "o8.png", gradient(), 8)
    assert iio.imread(tmp_path / "o16.png").dtype == np.uint16
    assert iio.imread(tmp_path / "o8.png").dtype == np.uint8
