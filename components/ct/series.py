"""Finding and reading CT series: NIfTI files (with a JSON sidecar) and DICOM folders.

A source is one NIfTI file (`*.nii`, `*.nii.gz`) or one folder of DICOM files.
NIfTI carries no patient metadata. A sidecar `<stem>.json` in dcm2niix/BIDS
style may give it: `PatientID`, `AcquisitionDate` (or `AcquisitionDateTime`),
`InstitutionName`, `SliceThickness`, and the demographics `PatientSex`,
`PatientBirthDate`, `PatientWeight` (kg), `PatientSize` (m). Public CT sets ship plain NIfTI, so without
a sidecar (or without a PatientID in it) the patient is read from the file: the
`patient` group of a pattern the user gives (`ct_pool.patient_id_pattern`, e.g.
`(?P<patient>[^_]+)_` for `case012_pre.nii.gz`), else the file's name — one
patient per file. The acquisition date is optional everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from nibabel.filebasedimages import ImageFileError

from components.ct import dicom

NIFTI_SUFFIXES = (".nii", ".nii.gz")
# Files that may sit beside the CTs and are not series (sidecars, notes, the id salt).
IGNORED_SUFFIXES = (".json", ".txt", ".md", ".csv", ".yaml", ".yml", ".dvc")


class SeriesError(Exception):
    """A series that cannot be used; the message is the reason a person reads."""


@dataclass(frozen=True)
class Demographics:
    """What a header says about the patient, in DICOM's keywords' units; None where it is silent."""

    sex: str | None = None  # "f" | "m"
    birth_date: dt.date | None = None
    weight_kg: float | None = None  # PatientWeight
    height_m: float | None = None  # PatientSize

    @classmethod
    def from_fields(cls, fields: dict) -> Demographics:
        """From DICOM keywords (a header, or a dcm2niix-style sidecar); malformed values count as unknown."""
        sex = str(fields.get("PatientSex") or "").strip().upper()
        return cls(sex={"F": "f", "M": "m"}.get(sex), birth_date=parse_date(fields.get("PatientBirthDate")),
                   weight_kg=_positive(fields.get("PatientWeight")), height_m=_positive(fields.get("PatientSize")))

    def age_years(self, on: dt.date | None, top: int = 90) -> int | None:
        """Whole years on `on`; ages above `top` are reported as `top` (HIPAA's safe harbour: 90 or older)."""
        if self.birth_date is None or on is None or on < self.birth_date:
            return None
        years = on.year - self.birth_date.year - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))
        return min(years, top)

    def bmi(self) -> float | None:
        if self.weight_kg is None or self.height_m is None:
            return None
        return round(self.weight_kg / self.height_m**2, 1)


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


@dataclass
class SeriesMeta:
    patient_id: str
    acquisition_date: dt.date | None
    site: str
    slice_thickness_mm: float | None
    source_format: str  # "nifti" | "dicom"
    rescale_type: str | None = None  # DICOM RescaleType (HU, US, ...)
    patient_from: str = "header"  # header | sidecar | pattern | file name
    problems: list[str] = field(default_factory=list)  # reasons to reject found while reading (a broken sidecar)
    demographics: Demographics = field(default_factory=lambda: Demographics())


@dataclass
class CTSeries:
    source: str  # path relative to the data root, as reported in rejected.csv
    image: sitk.Image  # HU, as stored (not yet checked)
    meta: SeriesMeta


def is_nifti(path: Path) -> bool:
    return path.name.endswith(NIFTI_SUFFIXES)


def nifti_stem(path: Path) -> str:
    return path.name[: -len(".nii.gz")] if path.name.endswith(".nii.gz") else path.stem


def discover_sources(root: str | Path) -> list[Path]:
    """Every candidate series under `root`, sorted: NIfTI files, DICOM folders, empty folders.

    An empty folder is returned too, so that it is reported rather than silently skipped; so
    are hidden entries and symbolic links (see `skipped_entries`), which are never followed.
    """
    return sorted(source for source, _ in _walk(Path(root)) if source is not None)


def skipped_entries(root: str | Path) -> list[tuple[Path, str]]:
    """(path, why) for what discovery does not ingest: hidden files and folders (the reason to
    rename them), and symbolic links (policy: the source tree is what was exported; a link can
    reach data outside it, or itself, and would ingest one series twice)."""
    return sorted(skip for _, skip in _walk(Path(root)) if skip is not None)


def _walk(root: Path):
    """(source, None) for each candidate and (None, (path, why)) for each skipped entry."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of CT series")
    for folder, dirs, names in os.walk(root, followlinks=False):
        folder = Path(folder)
        for name in [*dirs, *names]:
            path = folder / name
            if path.is_symlink():
                yield None, (path, "symbolic link, not followed (copy the series into the source folder)")
            elif name.startswith("."):
                yield None, (path, "hidden, skipped (rename it without the leading dot to ingest it)")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (folder / d).is_symlink())
        files = [folder / n for n in names if not n.startswith(".") and not (folder / n).is_symlink()]
        niftis = [p for p in files if is_nifti(p)]
        others = [p for p in files if not is_nifti(p) and not p.name.endswith(IGNORED_SUFFIXES)]
        for nifti in niftis:
            yield nifti, None
        if others or (not names and not dirs and folder != root):
            yield folder, None


def parse_date(value: str | None) -> dt.date | None:
    """DICOM `YYYYMMDD`, ISO `YYYY-MM-DD` or an ISO datetime → date."""
    if not value:
        return None
    text = str(value).strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text[: len("2000-01-01") if "-" in text else 8], fmt).date()
        except ValueError:
            continue
    return None


def patient_from_name(name: str, pattern: str | None) -> tuple[str, str]:
    """(patient id, how it was found) from a file or folder name and an optional regex with a
    `patient` group; raises SeriesError when the pattern does not match."""
    if pattern:
        match = re.search(pattern, name)
        if not match or not match.groupdict().get("patient"):
            raise SeriesError(f"patient_id_pattern {pattern!r} finds no `patient` group in {name!r}")
        return match.group("patient"), "pattern"
    return name, "file name"


def read_series(path: str | Path, root: str | Path, patient_pattern: str | None = None) -> CTSeries:
    """Read one source; raises SeriesError with a reason a person understands."""
    path, root = Path(path), Path(root)
    source = str(path.relative_to(root)) if path != root else "."
    if path.is_dir():
        image, meta = _read_dicom_folder(path, patient_pattern)
    else:
        image, meta = _read_nifti(path, patient_pattern)
    return CTSeries(source=source, image=image, meta=meta)


def _read_nifti(path: Path, patient_pattern: str | None = None) -> tuple[sitk.Image, SeriesMeta]:
    # nibabel, not ITK, reads the voxels: ITK silently zero-fills a truncated .nii.gz
    # and drops NaNs, both of which must be caught here.
    try:
        nifti = nib.load(str(path))
        voxels = nifti.get_fdata(dtype=np.float32)
    except (OSError, EOFError, ValueError, zlib.error, ImageFileError) as err:
        raise SeriesError(f"unreadable NIfTI (corrupt or truncated file): {_first_line(err)}") from None
    image = nifti_to_sitk(voxels, nifti.affine)
    sidecar = path.with_name(nifti_stem(path) + ".json")
    fields, problems = {}, []
    if sidecar.exists():
        try:
            fields = json.loads(sidecar.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            problems.append(f"sidecar {sidecar.name} is not valid JSON: {err}")
        if not isinstance(fields, dict):
            fields = {}
            problems.append(f"sidecar {sidecar.name} is not a JSON object")
    if fields.get("PatientID"):
        patient, patient_from = str(fields["PatientID"]), "sidecar"
    else:
        patient, patient_from = patient_from_name(nifti_stem(path), patient_pattern)
    thickness = fields.get("SliceThickness")
    meta = SeriesMeta(patient_id=patient,
                      acquisition_date=parse_date(fields.get("AcquisitionDate") or fields.get("AcquisitionDateTime")),
                      site=str(fields.get("InstitutionName") or "unknown"),
                      slice_thickness_mm=float(thickness) if thickness is not None else None,
                      source_format="nifti", patient_from=patient_from, problems=problems,
                      demographics=Demographics.from_fields(fields))
    return image, meta


def nifti_to_sitk(voxels: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """nibabel array (i, j, k) + RAS affine → SimpleITK image in LPS patient coordinates."""
    while voxels.ndim > 3 and voxels.shape[-1] == 1:
        voxels = voxels[..., 0]
    image = sitk.GetImageFromArray(np.ascontiguousarray(voxels.T), isVector=False)
    if voxels.ndim != 3:
        return image  # rejected downstream, with its dimensionality in the reason
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    linear = ras_to_lps @ affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    image.SetSpacing([float(v) for v in spacing])
    image.SetDirection((linear / spacing).ravel().tolist())
    image.SetOrigin([float(v) for v in ras_to_lps @ affine[:3, 3]])
    return image


def _read_dicom_folder(folder: Path, patient_pattern: str | None = None) -> tuple[sitk.Image, SeriesMeta]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")]
    if not files:
        raise SeriesError("empty folder: no DICOM or NIfTI files")
    dicoms = [p for p in files if dicom.is_dicom(p)]
    if not dicoms:
        raise SeriesError(f"no DICOM files among {len(files)} file(s) (no DICM preamble)")
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if len(series_ids) > 1:
        raise SeriesError(f"{len(series_ids)} series in one folder; put each series in its own folder")
    names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_ids[0]) if series_ids else []
    if not names:
        raise SeriesError("DICOM files found but no readable image series (corrupt headers?)")
    # GDCM leaves broken files out and stacks the rest as if nothing were missing.
    if len(names) < len(dicoms):
        left_out = sorted({Path(p).name for p in map(str, dicoms)} - {Path(n).name for n in names})
        raise SeriesError(f"{len(left_out)} of {len(dicoms)} DICOM files unreadable or not in the "
                          f"series (corrupt or truncated? e.g. {left_out[0]}): slices would be missing")
    try:
        header = dicom.read_header(names[0])
    except Exception as err:
        raise SeriesError(f"unreadable DICOM header (corrupt or truncated file): {_first_line(err)}") from None
    if header.get("Modality") not in (None, "CT"):  # before geometry: a radiograph has no slice positions
        raise SeriesError(f"not a CT series: modality is {header['Modality']}")
    try:
        gap = dicom.slice_gap_error(names)
    except Exception as err:
        raise SeriesError(f"unreadable DICOM series (corrupt or truncated file): {_first_line(err)}") from None
    if gap:
        raise SeriesError(gap)
    try:
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(names)
        image = reader.Execute()
    except Exception as err:  # pydicom and GDCM raise many kinds on broken files
        raise SeriesError(f"unreadable DICOM series (corrupt or truncated file): {_first_line(err)}") from None
    date = parse_date(header["AcquisitionDate"] or header["SeriesDate"] or header["StudyDate"])
    patient, patient_from = ((header["PatientID"], "header") if header["PatientID"]
                             else patient_from_name(folder.name, patient_pattern))
    meta = SeriesMeta(patient_id=patient, acquisition_date=date, site=header["InstitutionName"] or "unknown",
                      slice_thickness_mm=header["SliceThickness"], source_format="dicom",
                      rescale_type=header["RescaleType"], patient_from=patient_from,
                      demographics=Demographics.from_fields(header))
    return image, meta


def _first_line(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    # ITK's messages open with a source location; the reason is the last line.
    return lines[-1][:200] if lines else type(err).__name__
