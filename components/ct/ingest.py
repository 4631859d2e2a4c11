"""One series in, one pool volume (or one rejection) out.

Only values computed here reach the outputs: pseudonymous ids (patient, series and
site: an institution's name can identify a rare patient), the acquisition date,
geometry and summary statistics, and the labels radiograph generation conditions
on: sex, age in whole years (90 and above as 90, HIPAA's safe harbour), BMI, and
metal (an arthroplasty) on each side. No header is copied, so names, birth dates
and UIDs cannot leak into the pool.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from components.atomic_write import atomic_path
from components.ct.eligibility import (
    Eligibility,
    body_median_hu,
    geometry_reasons,
    intensity_reasons,
    physical_extent_mm,
    slice_thickness_mm,
)
from components.ct.pseudonym import pseudonym
from components.ct.resample import resample_isotropic
from components.ct.series import SeriesError, read_series

MANIFEST_COLUMNS = [
    "ct_id", "patient_id", "acquisition_date", "site", "source_format", "n_slices",
    "slice_thickness_mm", "orig_spacing_x_mm", "orig_spacing_y_mm", "orig_spacing_z_mm",
    "z_extent_mm", "spacing_x_mm", "spacing_y_mm", "spacing_z_mm", "shape_x", "shape_y", "shape_z",
    "hu_p01", "hu_body_median", "hu_max", "has_metal", "metal_right", "metal_left", "sex", "age_years", "bmi",
    "path",
]
UNKNOWN = "unknown"
REJECTED_COLUMNS = ["source", "reason"]


@dataclass
class IngestResult:
    source: str
    row: dict | None = None  # a manifest row when accepted
    reason: str | None = None  # why not, when rejected
    content: str | None = None  # sha256 of the pool volume's voxels and grid: finds copies of a series

    @property
    def accepted(self) -> bool:
        return self.row is not None


def ingest_series(path: str | Path, root: str | Path, out_dir: str | Path, rules: Eligibility,
                  spacing_mm: float, salt: str, metal_hu: float = 2500.0,
                  metal_min_voxels: int = 100, patient_pattern: str | None = None) -> IngestResult:
    """Read, check, resample and write one series; never raises for bad input. Every failing rule
    is reported, together: none masks another."""
    path, root = Path(path), Path(root)
    source = str(path.relative_to(root)) if path != root else "."
    try:
        series = read_series(path, root, patient_pattern)
        image = series.image
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            shape = image.GetSize() + ((image.GetNumberOfComponentsPerPixel(),)
                                       if image.GetNumberOfComponentsPerPixel() > 1 else ())
            kind = "2D image" if image.GetDimension() == 2 else f"{image.GetDimension()}D volume"
            raise SeriesError("; ".join([f"{kind} of size {tuple(shape)}; a CT series must be one 3D volume",
                                         *series.meta.problems]))
        hu = sitk.GetArrayViewFromImage(image)
        reasons = [*series.meta.problems, *geometry_reasons(image, series.meta, rules),
                   *intensity_reasons(hu, rules, series.meta.rescale_type)]
        if reasons:
            return IngestResult(source, reason="; ".join(reasons))
        resampled = resample_int16(image, spacing_mm)
    except SeriesError as err:
        return IngestResult(source, reason=str(err))

    meta = series.meta
    patient_id = pseudonym(salt, "patient", meta.patient_id, prefix="P")
    ct_id = pseudonym(salt, "series", meta.patient_id, source, prefix="CT")
    out = Path(out_dir) / f"{ct_id}.nii.gz"
    with atomic_path(out) as tmp:
        sitk.WriteImage(resampled, str(tmp), useCompression=True)
        _verify_written(tmp, resampled)
    values = sitk.GetArrayViewFromImage(resampled)
    content = hashlib.sha256(np.ascontiguousarray(values).tobytes()
                             + repr((resampled.GetOrigin(), resampled.GetSpacing())).encode()).hexdigest()
    spacing = image.GetSpacing()
    row = dict(
        ct_id=ct_id, patient_id=patient_id,
        acquisition_date=meta.acquisition_date.isoformat() if meta.acquisition_date else None,
        site=pseudonym(salt, "site", meta.site, prefix="S") if meta.site != "unknown" else "unknown",
        source_format=meta.source_format, n_slices=image.GetSize()[2],
        slice_thickness_mm=round(slice_thickness_mm(image, meta), 4),
        orig_spacing_x_mm=round(spacing[0], 4), orig_spacing_y_mm=round(spacing[1], 4),
        orig_spacing_z_mm=round(spacing[2], 4), z_extent_mm=round(float(physical_extent_mm(image)[2]), 1),
        spacing_x_mm=resampled.GetSpacing()[0], spacing_y_mm=resampled.GetSpacing()[1],
        spacing_z_mm=resampled.GetSpacing()[2], shape_x=resampled.GetSize()[0],
        shape_y=resampled.GetSize()[1], shape_z=resampled.GetSize()[2],
        hu_p01=float(np.percentile(values[::4, ::4, ::4], 1)), hu_body_median=body_median_hu(values, rules),
        hu_max=float(values.max()),
        has_metal=bool((values >= metal_hu).sum() >= metal_min_voxels),
        **metal_sides(resampled, metal_hu, metal_min_voxels),
        sex=meta.demographics.sex or UNKNOWN, age_years=meta.demographics.age_years(meta.acquisition_date),
        bmi=meta.demographics.bmi(),
        path=f"ct/{out.name}",
    )
    return IngestResult(source, row=row, content=content)


def metal_sides(image: sitk.Image, metal_hu: float, min_voxels: int) -> dict[str, bool]:
    """Metal on the patient's right and left: voxels at or above `metal_hu` on either side of the body's
    midline (the mean x of the voxels above -500 HU), at least `min_voxels` of them. The pool's images are in
    LPS with an identity direction, so x grows toward the patient's left."""
    values = sitk.GetArrayViewFromImage(image)  # (z, y, x)
    x = image.GetOrigin()[0] + image.GetSpacing()[0] * np.arange(values.shape[2])
    body = (values > -500).sum(axis=(0, 1))
    midline = float((body * x).sum() / max(body.sum(), 1))
    metal = (values >= metal_hu).sum(axis=(0, 1))
    return {"metal_right": bool(metal[x < midline].sum() >= min_voxels),
            "metal_left": bool(metal[x >= midline].sum() >= min_voxels)}


def read_ct_volume(path: str | Path, spacing_mm: float, rules: Eligibility) -> tuple[sitk.Image, list[str]]:
    """Any CT (NIfTI file or DICOM folder, any spacing and orientation) in the pool's convention:
    int16 HU on an isotropic `spacing_mm` grid, identity direction; with the eligibility rules it
    breaks (to warn about, not to refuse: one DRR of any CT is a fair request). Raises SeriesError
    when the file is not one readable 3D volume."""
    path = Path(path)
    series = read_series(path, path.parent)
    image = series.image
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise SeriesError(f"{image.GetDimension()}D image; a CT must be one 3D volume")
    notes = [*geometry_reasons(image, series.meta, rules),
             *intensity_reasons(sitk.GetArrayViewFromImage(image), rules, series.meta.rescale_type)]
    return resample_int16(image, spacing_mm), notes


def resample_int16(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Resample to the pool grid and store as int16 HU (what pool volumes hold)."""
    resampled = resample_isotropic(sitk.Cast(image, sitk.sitkFloat32), spacing_mm)
    # Round, then clamp into int16 so extended-range metal cannot wrap around.
    resampled = sitk.Clamp(sitk.Round(resampled), sitk.sitkFloat32, -32768, 32767)
    return sitk.Cast(resampled, sitk.sitkInt16)


def _verify_written(path: Path, expected: sitk.Image) -> None:
    """Re-read the header of what was written: size, spacing and type must match."""
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    ok = (reader.GetSize() == expected.GetSize()
          and np.allclose(reader.GetSpacing(), expected.GetSpacing(), atol=1e-4)
          and reader.GetPixelID() == sitk.sitkInt16)
    if not ok:
        raise OSError(f"{path}: written volume does not read back as written "
                      f"(size {reader.GetSize()}, spacing {reader.GetSpacing()})")


def drop_duplicates(results: list[IngestResult]) -> list[IngestResult]:
    """Policy: of series with identical voxels and grid (a copied folder, a second export), the
    first in source order is kept; each later one is rejected, naming the one kept."""
    first: dict[str, str] = {}
    out = []
    for r in results:
        if r.accepted and r.content in first:
            r = IngestResult(r.source, reason=f"duplicate of {first[r.content]} (identical voxels), not ingested twice")
        elif r.accepted:
            first[r.content] = r.source
        out.append(r)
    return out


def spreadsheet_safe(text: str) -> str:
    """A file name that a spreadsheet would run as a formula (=, +, -, @ first) is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
