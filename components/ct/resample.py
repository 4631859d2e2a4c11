"""Resampling to isotropic voxels in the pool's one canonical orientation.

Canonical orientation: identity direction in DICOM/ITK patient coordinates (LPS):
array axis x runs towards the patient's left, y towards posterior, z towards
superior. (In nibabel's terms the files read as 'LPS'; SimpleITK's
GetArrayFromImage gives the array as [z, y, x].)

The resampled grid covers the same physical box as the input (voxel edges, not
centres, are aligned), so anatomy keeps its size and place.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

AIR_HU = -1000.0


def to_canonical(image: sitk.Image) -> sitk.Image:
    """Permute/flip axes (no interpolation) to the closest LPS orientation."""
    return sitk.DICOMOrient(image, "LPS")


def resample_isotropic(image: sitk.Image, spacing_mm: float, interpolator=sitk.sitkLinear) -> sitk.Image:
    """Resample to `spacing_mm` cubes on an identity-direction grid spanning the input's box."""
    image = to_canonical(image)
    size = np.asarray(image.GetSize(), float)
    spacing = np.asarray(image.GetSpacing(), float)
    direction = np.asarray(image.GetDirection(), float).reshape(3, 3)
    # Physical corners of the voxel-edge box, so oblique inputs are covered too.
    corners_idx = np.array([[i, j, k] for i in (-0.5, size[0] - 0.5) for j in (-0.5, size[1] - 0.5)
                            for k in (-0.5, size[2] - 0.5)])
    corners = np.asarray(image.GetOrigin()) + (corners_idx * spacing) @ direction.T
    lo, hi = corners.min(0), corners.max(0)
    new_size = np.maximum(1, np.round((hi - lo) / spacing_mm)).astype(int)
    new_origin = lo + spacing_mm / 2.0
    # Border voxels whose centres fall between the input's last centre and its edge are
    # extrapolated from the nearest voxel rather than set to air.
    return sitk.Resample(image, [int(v) for v in new_size], sitk.Transform(), interpolator,
                         [float(v) for v in new_origin], [float(spacing_mm)] * 3,
                         np.eye(3).ravel().tolist(), AIR_HU, sitk.sitkFloat32, True)
