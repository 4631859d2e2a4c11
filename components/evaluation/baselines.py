"""Baselines a rotation model must beat: identity, and a 2D affine warp of the rotation.

The warp maps the isocentre plane through the 3D rotation and drops depth: a
point (x, z) of the plane goes to the (x, z) part of R·(x, 0, z), i.e. the 2×2
block A = [[Rxx, Rxz], [Rzx, Rzz]] about the image centre. Rotation about y is
then an exact in-plane rotation; about x or z it becomes foreshortening.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from components.drr.geometry import rotation_matrix


def identity(source: np.ndarray, delta_deg) -> np.ndarray:
    return np.asarray(source, np.float32).copy()


def affine_warp(source: np.ndarray, delta_deg) -> np.ndarray:
    r = rotation_matrix(delta_deg)
    a = np.array([[r[0, 0], r[0, 2]], [r[2, 0], r[2, 2]]])  # acts on (x, z)
    flip = np.diag([1.0, -1.0])  # image rows run towards −z
    forward = flip @ a @ flip  # on normalised (col, row) coordinates
    theta = np.zeros((1, 2, 3), np.float32)
    theta[0, :, :2] = np.linalg.inv(forward)  # affine_grid maps output → input
    image = torch.as_tensor(np.asarray(source, np.float32))[None, None]
    grid = F.affine_grid(torch.from_numpy(theta), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, 0].numpy()


BASELINES = {"identity": identity, "affine_warp": affine_warp}
