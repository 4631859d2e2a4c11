"""The report's CT eligibility rules and the sanity checks that keep bad data out.

Report, section 3.1: axial; >= 50 slices; slice thickness <= 1.5 mm; the whole
pelvis (iliac crest to below the lesser trochanters) and both hips captured.
Coverage cannot be read off a header, so it is judged by a proxy: the
cranio-caudal extent (iliac crest to lesser trochanter is ~180-230 mm in
adults) and the left-right field of view (both hips need ~250 mm).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import SimpleITK as sitk

from components.ct.series import SeriesMeta


@dataclass(frozen=True)
class Eligibility:
    min_slices: int = 50
    max_slice_thickness_mm: float = 1.5
    min_z_extent_mm: float = 180.0
    min_lr_extent_mm: float = 250.0
    max_obliquity_deg: float = 10.0
    air_hu_min: float = -1100.0  # the 1st percentile must fall in [air_hu_min, air_hu_max]:
    air_hu_max: float = -900.0  # a CT in HU has air around the patient at about -1000

    @classmethod
    def from_params(cls, params: dict) -> "Eligibility":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})


def slice_axis_obliquity_deg(image: sitk.Image) -> float:
    """Angle between the slice normal (third image axis) and the patient z axis."""
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    normal = direction[:, 2]
    return float(np.degrees(np.arccos(min(1.0, abs(normal[2]) / np.linalg.norm(normal)))))


def physical_extent_mm(image: sitk.Image) -> np.ndarray:
    """Extent along patient x (left-right), y (AP), z (cranio-caudal), in mm."""
    direction = np.abs(np.asarray(image.GetDirection(), float).reshape(3, 3))
    edges = np.asarray(image.GetSize(), float) * np.asarray(image.GetSpacing(), float)
    return direction @ edges


def geometry_reasons(image: sitk.Image, meta: SeriesMeta, rules: Eligibility) -> list[str]:
    """Header-level reasons to reject (empty when eligible). Needs a 3D image."""
    reasons = []
    obliquity = slice_axis_obliquity_deg(image)
    if obliquity > rules.max_obliquity_deg:
        reasons.append(f"not axial: slice normal is {obliquity:.0f}° from the patient's "
                       f"head-foot axis (limit {rules.max_obliquity_deg:g}°; sagittal or coronal series?)")
        return reasons  # slice counts and thickness mean nothing for a non-axial series
    n_slices = image.GetSize()[2]
    if n_slices < rules.min_slices:
        reasons.append(f"{n_slices} slices, fewer than {rules.min_slices}")
    thickness = slice_thickness_mm(image, meta)
    if thickness > rules.max_slice_thickness_mm:
        reasons.append(f"slice thickness {thickness:g} mm exceeds {rules.max_slice_thickness_mm:g} mm")
    extent = physical_extent_mm(image)
    if extent[2] < rules.min_z_extent_mm:
        reasons.append(f"covers {extent[2]:.0f} mm head-foot, less than the {rules.min_z_extent_mm:g} mm "
                       "whole-pelvis proxy (iliac crest to lesser trochanters)")
    if extent[0] < rules.min_lr_extent_mm:
        reasons.append(f"field of view {extent[0]:.0f} mm left-right, less than {rules.min_lr_extent_mm:g} mm "
                       "(both hips must be in view)")
    return reasons


def slice_thickness_mm(image: sitk.Image, meta: SeriesMeta) -> float:
    """Recorded thickness, else the slice spacing (thin-slice recon may overlap, never the reverse)."""
    return float(meta.slice_thickness_mm) if meta.slice_thickness_mm else float(image.GetSpacing()[2])


def intensity_reasons(hu: np.ndarray, rules: Eligibility) -> list[str]:
    """Reasons the voxel values are not a CT in Hounsfield units (empty when they are)."""
    n_nan = int(np.isnan(hu).sum()) if np.issubdtype(hu.dtype, np.floating) else 0
    if n_nan:
        return [f"{n_nan} NaN voxels"]
    lowest, p01 = float(hu.min()), float(np.percentile(hu[::4, ::4, ::4], 1))
    if lowest >= 0:
        return [f"values are not Hounsfield units: lowest value {lowest:g} (raw unsigned 0..4095 "
                "scanner values? RescaleIntercept missing)"]
    if not rules.air_hu_min <= p01 <= rules.air_hu_max:
        return [f"values are not Hounsfield units: the 1st percentile is {p01:.0f}, air should be near -1000"]
    return []
