"""The model's grid and the three maps between it and the views: resample, lift, project.

The grid is a cube of `voxels`³ at `spacing_mm`, centred on the isocentre, in the
pool's LPS frame, arrays in ITK's (z, y, x) order. The two views are the AP
(components/drr/geometry.py) and a left lateral: the AP of the volume turned
90° about z, so its rays run from the patient's right to the left, rows
superior to inferior and columns posterior to anterior. Turning by exactly 90°
permutes voxels, so every projector path stays the AP one.

- `resample_ct`: a pool CT at a pose → HU on the grid (area-averaged sub-samples).
- `lift`: a view → a volume, each voxel the view's value where its ray lands
  (back-projection along the ray, as X2CT-GAN and Diff2CT expand a view in 3D).
- `project`: grid volumes → AP and lateral line integrals, differentiable
  (Diff2CT's projection loss), with the projector's own traversal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from components.config import Grid as GridParams
from components.drr.geometry import Geometry, project_point, rays, rotation_matrix
from components.drr.projector import DensityVolume, line_integrals

HU_AIR, HU_TOP = -1000.0, 2000.0  # the model's range: [-1, 1] ↔ [air, dense cortical bone]
VIEWS = ("ap", "lateral")
TO_LATERAL = rotation_matrix([0.0, 0.0, 90.0])  # the patient's +x (left) onto the beam's +y


@dataclass(frozen=True)
class VolumeGrid:
    voxels: int
    spacing_mm: float

    @classmethod
    def from_params(cls, p: GridParams) -> VolumeGrid:
        return cls(int(p.voxels), float(p.spacing_mm))

    @property
    def origin(self) -> np.ndarray:
        """Centre of voxel (0, 0, 0) relative to the isocentre (x, y, z), mm."""
        return np.full(3, -(self.voxels - 1) / 2 * self.spacing_mm)

    def centres(self, subsample: int = 1) -> np.ndarray:
        """Voxel (or sub-voxel) centres (n, n, n, 3) as (x, y, z) relative to the isocentre, (z, y, x) order."""
        n = self.voxels * subsample
        step = self.spacing_mm / subsample
        axis = (np.arange(n) - (n - 1) / 2) * step
        z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
        return np.stack([x, y, z], -1)

    def to_dict(self) -> dict:
        return {"voxels": self.voxels, "spacing_mm": self.spacing_mm}


def normalise(hu):
    """HU → the model's [-1, 1] (clipped: metal reads as dense bone)."""
    if isinstance(hu, torch.Tensor):
        return ((hu.clamp(HU_AIR, HU_TOP) - HU_AIR) / (HU_TOP - HU_AIR)) * 2 - 1
    return ((np.clip(hu, HU_AIR, HU_TOP) - HU_AIR) / (HU_TOP - HU_AIR)) * 2 - 1


def to_hu(x):
    return (x + 1) / 2 * (HU_TOP - HU_AIR) + HU_AIR


def lateral_pose(pose_deg) -> np.ndarray:
    """The AP pose of the 90°-turned volume that shows the lateral view of the volume at `pose_deg`:
    the rotation TO_LATERAL · R · TO_LATERALᵀ, as the projector's angles (R = Rz·Ry·Rx: scipy's extrinsic xyz)."""
    turned = TO_LATERAL @ rotation_matrix(pose_deg) @ TO_LATERAL.T
    return Rotation.from_matrix(turned).as_euler("xyz", degrees=True)


def turn_to_lateral(volume_zyx):
    """The volume turned 90° about z (a voxel permutation): W[z, j, i] = V[z, Ny − 1 − i, j]."""
    if isinstance(volume_zyx, torch.Tensor):
        return volume_zyx.flip(-2).transpose(-1, -2)
    return np.ascontiguousarray(np.swapaxes(volume_zyx[..., ::-1, :], -1, -2))


def resample_ct(hu_zyx: np.ndarray, spacing_mm: float, origin_xyz, grid: VolumeGrid, pose_deg=(0, 0, 0),
                subsample: int = 3) -> np.ndarray:
    """HU of the CT rotated by `pose_deg` about its centre, on the grid: the mean of subsample³ trilinear
    samples per voxel (an area average for any pool spacing); air outside the CT."""
    shape_xyz = np.array(hu_zyx.shape[::-1], float)
    centre = np.asarray(origin_xyz, float) + (shape_xyz - 1) / 2 * spacing_mm
    # The rotated volume at q holds the original at Rᵀ q (about the centre): rows q·R.
    source = grid.centres(subsample) @ rotation_matrix(pose_deg) + centre
    index = (source - np.asarray(origin_xyz, float)) / spacing_mm
    normalised = torch.from_numpy(2 * index / (shape_xyz - 1) - 1).float()[None]  # (1, n, n, n, 3) as (x, y, z)
    shifted = torch.from_numpy(np.asarray(hu_zyx, np.float32) - HU_AIR)[None, None]  # zero padding = air
    sampled = F.grid_sample(shifted, normalised, mode="bilinear", padding_mode="zeros", align_corners=True)
    return (F.avg_pool3d(sampled, subsample)[0, 0] + HU_AIR).numpy()


def lift(view: torch.Tensor, which: str, grid: VolumeGrid, geometry: Geometry) -> torch.Tensor:
    """(B, H, W) views → (B, n, n, n): every voxel takes the view's value where the ray through it lands."""
    if which not in VIEWS:
        raise ValueError(f"view {which!r} is not one of {VIEWS}")
    points = grid.centres()
    if which == "lateral":
        points = points @ TO_LATERAL.T
    row_col = project_point(geometry, np.zeros(3), points, [0.0, 0.0, 0.0])  # (n, n, n, 2)
    scale = 2 / (np.array([view.shape[-2], view.shape[-1]], float) - 1)
    xy = row_col[..., ::-1] * scale[::-1] - 1  # grid_sample wants (x = column, y = row) in [-1, 1]
    sample_at = torch.as_tensor(xy.reshape(1, 1, -1, 2), dtype=view.dtype, device=view.device)
    sampled = F.grid_sample(view[:, None], sample_at.expand(len(view), -1, -1, -1), mode="bilinear",
                            padding_mode="zeros", align_corners=True)
    return sampled.reshape(len(view), *points.shape[:3])


def condition(ap: torch.Tensor, lateral: torch.Tensor, grid: VolumeGrid, geometry: Geometry) -> torch.Tensor:
    """The model's condition: (B, 2, n, n, n), both views in [0, 1] lifted into the grid, as [-1, 1]."""
    return torch.stack([lift(ap, "ap", grid, geometry), lift(lateral, "lateral", grid, geometry)], 1) * 2 - 1


def project(volume: torch.Tensor, grid: VolumeGrid, geometry: Geometry, pixels: int) -> torch.Tensor:
    """(B, 1, n, n, n) volumes in [-1, 1] → (B, 2, pixels, pixels): AP and lateral mean density along each
    ray (line integral of (x + 1) / 2 over the grid's side), differentiable."""
    density = (volume[:, 0] + 1) / 2
    detector = Geometry(geometry.source_to_detector_mm, geometry.source_to_isocentre_mm, pixels,
                        geometry.detector_mm)
    origins, directions = rays(detector, np.zeros(3), np.zeros((1, 3)))
    side_cm = grid.voxels * grid.spacing_mm / 10
    views = []
    for data in (density, turn_to_lateral(density)):
        # the batch rides in the projector's material channel: one traversal for all volumes
        cube = DensityVolume(data[None], grid.origin, grid.spacing_mm)
        views.append(line_integrals(cube, origins, directions)[0] / side_cm)
    return torch.stack(views, 1)
