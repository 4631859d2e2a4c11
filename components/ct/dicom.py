"""DICOM CT series: writing (synthetic data, tests) and the header fields ingest needs.

Pixel data are read by SimpleITK (GDCM sorts slices and applies the rescale);
headers by pydicom, reading only the fields listed in `HEADER_FIELDS` so that no
identifying tag travels further than this module's caller.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

# The only header fields ingest reads; names, birth dates and UIDs are not among them
# except PatientID, which is replaced by a salted hash before anything is written.
HEADER_FIELDS = ("PatientID", "AcquisitionDate", "SeriesDate", "StudyDate", "InstitutionName",
                 "SliceThickness", "ImageOrientationPatient", "Modality", "RescaleType",
                 # demographics the generation labels use; the ingest keeps sex, age in years, BMI
                 "PatientSex", "PatientBirthDate", "PatientWeight", "PatientSize")


def write_series(hu_zyx: np.ndarray, spacing_xyz, origin_xyz, out_dir: str | Path, meta: dict,
                 direction=None, rescale_intercept: float = -1024.0) -> Path:
    """Write a volume as one DICOM file per slice (unsigned 16-bit + rescale, as scanners do).

    `direction` is the 3×3 matrix whose columns are the image axes (i, j, slice) in
    patient LPS coordinates; identity is an axial series. `meta` holds DICOM keywords (PatientName, PatientID, AcquisitionDate, ...).
    UIDs derive from `meta["uid_seed"]` so that a seed gives identical files.
    `rescale_intercept=0` writes raw unsigned values, the "not HU" failure mode.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = str(meta.get("uid_seed", "radrotator"))
    study_uid = generate_uid(entropy_srcs=[seed, "study"])
    series_uid = generate_uid(entropy_srcs=[seed, "series"])
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    orientation = [*direction[:, 0], *direction[:, 1]]
    normal = direction[:, 2]
    stored = np.clip(np.rint(hu_zyx - rescale_intercept), 0, 65535).astype(np.uint16)
    for k, plane in enumerate(stored):
        position = np.asarray(origin_xyz, float) + normal * k * spacing_xyz[2]
        meta_info = FileMetaDataset()
        meta_info.MediaStorageSOPClassUID = CTImageStorage
        meta_info.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[seed, "image", str(k)])
        meta_info.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta_info, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta_info.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[seed, "frame"])
        ds.Modality = "CT"
        for key in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "InstitutionName",
                    "AcquisitionDate", "StudyDate", "SeriesDate", "SeriesDescription"):
            if key in meta:
                setattr(ds, key, meta[key])
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.SliceThickness = f"{float(meta.get('SliceThickness', spacing_xyz[2])):.4g}"
        ds.PixelSpacing = [f"{spacing_xyz[1]:.6g}", f"{spacing_xyz[0]:.6g}"]  # row, column
        ds.ImageOrientationPatient = [f"{v:.6g}" for v in orientation]
        ds.ImagePositionPatient = [f"{v:.10g}" for v in position]
        ds.SliceLocation = f"{float(position @ normal):.10g}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = plane.shape
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = f"{rescale_intercept:g}", "1", "HU"
        ds.PixelData = plane.tobytes()
        ds.save_as(out_dir / f"slice_{k:04d}.dcm", enforce_file_format=True)
    return out_dir


def read_header(path: str | Path) -> dict:
    """The `HEADER_FIELDS` of one DICOM file as plain Python values (absent → None)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(HEADER_FIELDS))
    values = {}
    for key in HEADER_FIELDS:
        value = ds.get(key)
        if value is None or value == "":
            values[key] = None
        elif key == "ImageOrientationPatient":
            values[key] = [float(v) for v in value]
        elif key == "SliceThickness":
            values[key] = float(value)
        else:
            values[key] = str(value)
    return values


def slice_gap_error(files: list[str], tolerance: float = 0.1) -> str | None:
    """A reason when the slices are unevenly spaced along their normal (missing slices), else None.

    `files` must be in GDCM's stacking order. Also catches a pixel payload cut short.
    """
    positions, normal = [], None
    for name in files:
        ds = pydicom.dcmread(name, specific_tags=["ImagePositionPatient", "ImageOrientationPatient",
                                                  "Rows", "Columns", "BitsAllocated", "PixelData"])
        expected = int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8
        if "PixelData" not in ds or len(ds.PixelData) < expected:
            return f"{Path(name).name}: pixel data cut short (truncated file)"
        if normal is None:
            cosines = np.asarray(ds.ImageOrientationPatient, float)
            normal = np.cross(cosines[:3], cosines[3:])
        positions.append(float(np.asarray(ds.ImagePositionPatient, float) @ normal))
    steps = np.abs(np.diff(positions))
    if len(steps) and (steps.max() - steps.min()) > tolerance * np.median(steps):
        worst = int(np.argmax(steps))
        return (f"missing or unevenly spaced slices: {steps.max():.2f} mm gap after "
                f"{Path(files[worst]).name}, usual spacing {np.median(steps):.2f} mm")
    return None


def is_dicom(path: Path) -> bool:
    """True for a file with the DICOM preamble (the `DICM` magic at byte 128)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False
