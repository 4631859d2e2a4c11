"""The report's CT eligibility rules and the sanity checks that keep bad data out.

Report, section 3.1: axial; >= 50 slices; slice thickness <= 1.5 mm; the whole
pelvis (iliac crest to below the lesser trochanters) and both hips captured.
Coverage cannot be read off a header, so it is judged by a proxy: the
cranio-caudal extent (iliac crest to lesser trochanter is ~180-230 mm in
adults) and the left-right field of view (both hips need ~250 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from components.config import EligibilityRules
from components.ct.series import SeriesMeta


@dataclass(frozen=True)
class Eligibility:
    min_slices: int
    max_slice_thickness_mm: float
    min_z_extent_mm: float
    min_lr_extent_mm: float
    max_obliquity_deg: float
    air_hu_min: float  # where there is air, the 1st percentile must fall in [air_hu_min, air_hu_max]:
    air_hu_max: float  # air is about -1000 HU
    padding_hu: float  # values at or below: padding outside the reconstruction circle (-2048, -3024)
    body_median_hu: tuple[float, float]  # the body's median: fat and soft tissue, 0-60 HU
    bone_hu: float  # a pelvis CT in HU has bone above this ...
    min_bone_fraction: float  # ... in at least this fraction of the body

    @classmethod
    def from_params(cls, rules: EligibilityRules) -> Eligibility:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in rules.to_dict().items()})


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


def intensity_reasons(hu: np.ndarray, rules: Eligibility, rescale_type: str | None = None) -> list[str]:
    """Reasons the voxel values are not a CT in Hounsfield units (empty when they are), all of them.

    Judged as a CT in HU looks, robust to padding and to a body that fills the field of view:
    padding (at or below `padding_hu`) is left out; the body (above -500 HU) has its median among
    fat and soft tissue and holds some bone; where there is air (1 % of voxels below -300 HU), the
    lowest percentile is near -1000.
    """
    reasons = []
    if rescale_type not in (None, "HU", "US"):  # US: unspecified, which scanners write for HU too
        reasons.append(f"RescaleType is {rescale_type!r}, not HU")
    values = np.asarray(hu[::2, ::2, ::2], np.float32)
    n_nan = int(np.isnan(hu).sum()) if np.issubdtype(hu.dtype, np.floating) else 0
    if n_nan:
        return reasons + [f"{n_nan} NaN voxels"]
    lowest = float(values.min())
    if lowest >= 0:
        return reasons + [f"values are not Hounsfield units: lowest value {lowest:g} (raw unsigned 0..4095 "
                          "scanner values? RescaleIntercept missing)"]
    scanned = values[values > rules.padding_hu]
    body = scanned[scanned > -500]
    if body.size < 0.01 * max(scanned.size, 1):
        return reasons + ["values are not Hounsfield units: almost nothing above -500 HU (no body in the volume)"]
    median = float(np.median(body))
    lo, hi = rules.body_median_hu
    if not lo <= median <= hi:
        reasons.append(f"values are not Hounsfield units: the body's median is {median:.0f} HU, fat and soft "
                       f"tissue should put it in [{lo:g}, {hi:g}]")
    bone = float((body > rules.bone_hu).mean())
    if bone < rules.min_bone_fraction:
        reasons.append(f"no bone: {100 * bone:.2f} % of the body above {rules.bone_hu:g} HU (a pelvis CT in HU "
                       f"shows bone; need {100 * rules.min_bone_fraction:g} %)")
    if (scanned < -300).mean() >= 0.01:  # enough air (or gas) to judge where air lies
        p01 = float(np.percentile(scanned, 1))
        if not rules.air_hu_min <= p01 <= rules.air_hu_max:
            reasons.append(f"values are not Hounsfield units: the 1st percentile is {p01:.0f} (padding left out), "
                           "air should be near -1000")
    return reasons


def body_median_hu(hu: np.ndarray, rules: Eligibility) -> float:
    values = np.asarray(hu[::4, ::4, ::4], np.float32)
    return float(np.median(values[(values > rules.padding_hu) & (values > -500)]))
