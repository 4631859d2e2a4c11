"""Projection geometry and pose conventions, written down once.

Frame: DICOM/ITK patient coordinates (LPS) of the pool volumes — +x towards the
patient's left, +y posterior, +z superior — with the isocentre at the volume
centre (the report's isocentric position; patient supine, head first).

AP projection: the source is anterior (at −y), the detector posterior. The image
is displayed as radiographs are: row 0 is superior, and the patient's right is on
the viewer's left, so columns run towards +x and rows towards −z.

Pose (x, y, z) in degrees rotates the *volume* about its centre: first about x
(left–right axis: cranio-caudal tilt, as inlet/outlet views), then about y
(antero-posterior axis: in-plane rotation of the image), then about z (head–foot
axis: the obliques), each counter-clockwise by the right-hand rule:
R = Rz · Ry · Rx. A DRR at a pose images the rotated volume with a fixed source
and detector; equivalently, rays are rotated by Rᵀ about the isocentre.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Geometry:
    source_to_detector_mm: float
    source_to_isocentre_mm: float
    pixels: int  # detector rows = columns
    detector_mm: float  # detector side; pixel pitch = detector_mm / pixels

    @property
    def pixel_mm(self) -> float:
        return self.detector_mm / self.pixels

    @property
    def magnification(self) -> float:
        return self.source_to_detector_mm / self.source_to_isocentre_mm

    def to_dict(self) -> dict:
        return asdict(self)


def rotation_matrix(angles_deg) -> np.ndarray:
    """R = Rz · Ry · Rx for angles (x, y, z) in degrees; shape (..., 3, 3)."""
    a = np.deg2rad(np.asarray(angles_deg, float))
    cx, cy, cz = np.cos(a[..., 0]), np.cos(a[..., 1]), np.cos(a[..., 2])
    sx, sy, sz = np.sin(a[..., 0]), np.sin(a[..., 1]), np.sin(a[..., 2])
    one, zero = np.ones_like(cx), np.zeros_like(cx)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(*cx.shape, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*cx.shape, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(*cx.shape, 3, 3)
    return rz @ ry @ rx


def detector_points(geometry: Geometry, isocentre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source position (3,) and detector pixel centres (rows, cols, 3) in the patient frame."""
    n, pitch = geometry.pixels, geometry.pixel_mm
    source = isocentre + np.array([0.0, -geometry.source_to_isocentre_mm, 0.0])
    centre = source + np.array([0.0, geometry.source_to_detector_mm, 0.0])
    offsets = (np.arange(n) - (n - 1) / 2) * pitch
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    pixels = centre + cols[..., None] * np.array([1.0, 0, 0]) + rows[..., None] * np.array([0, 0, -1.0])
    return source, pixels


def project_point(geometry: Geometry, isocentre: np.ndarray, point: np.ndarray, angles_deg) -> np.ndarray:
    """Where volume points (..., 3) land on the detector after the pose: (..., 2) as (row, col) in pixels."""
    rotated = isocentre + (np.asarray(point, float) - isocentre) @ rotation_matrix(angles_deg).T
    source, _ = detector_points(geometry, isocentre)
    ray = rotated - source
    scale = geometry.source_to_detector_mm / ray[..., 1]
    col = ray[..., 0] * scale / geometry.pixel_mm + (geometry.pixels - 1) / 2
    row = -ray[..., 2] * scale / geometry.pixel_mm + (geometry.pixels - 1) / 2
    return np.stack([row, col], -1)


def rays(geometry: Geometry, isocentre: np.ndarray, poses_deg: np.ndarray,
         dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray origins (B, 3) and unit directions (B, rows, cols, 3) in the volume's frame."""
    source, pixels = detector_points(geometry, isocentre)
    rot_t = np.swapaxes(rotation_matrix(np.atleast_2d(poses_deg)), -1, -2)  # volume frame = Rᵀ(w − c) + c
    origins = isocentre + (rot_t @ (source - isocentre))
    ends = isocentre + np.einsum("bij,rcj->brci", rot_t, pixels - isocentre)
    directions = ends - origins[:, None, None, :]
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    return torch.as_tensor(origins, dtype=dtype), torch.as_tensor(directions, dtype=dtype)
