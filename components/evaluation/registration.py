"""Rotation read back by 2D/3D registration: which pose of its CT does an image show?

A generated view claims to show the test CT at the requested pose (source pose +
V). Its pose is recovered by registering it to that CT with our projector: the
CT is rendered at every pose of a grid over ±15° on each axis (a dictionary of
low-resolution DRRs through the same display chain, without quantum noise), the
image is compared with each by normalised gradient correlation (NGC, robust to
the intensity differences between a DRR, a generated view and a radiograph-style
image) over the central field (collimation and side markers, which a DRR does
not have, stay in the margin), and the best grid pose is refined to sub-grid precision by a parabola
through its neighbours on each axis. The rotation error is |recovered − requested|,
averaged over the three axes, in degrees. Registering the true target gives the
measure's own floor; registering the unrotated input gives identity's error.

The dictionary makes the search exhaustive (no local optimum from a start pose)
and cheap: one set of renders per CT, then a matrix product per image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from components.drr.projector import DensityVolume, TorchProjector
from components.drr.render import DRRConfig, render_views


@dataclass(frozen=True)
class RegistrationConfig:
    pixels: int  # dictionary DRRs and images are compared at this size
    volume_spacing_mm: float  # materials averaged to this grid for the dictionary
    step_deg: float  # grid step on each axis
    limit_deg: float  # the grid spans ±limit on each axis
    margin: float  # fraction of each side left out: collimation and side markers live there

    def grid(self) -> np.ndarray:
        return np.arange(-self.limit_deg, self.limit_deg + self.step_deg / 2, self.step_deg)


def ngc_features(images: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """(N, H, W) → (N, F): the x and y gradients of the image's centre (`margin` of each side left
    out), each centred and scaled to unit norm, so that the dot product of two feature rows / 2 is
    their normalised gradient correlation."""
    h, w = images.shape[-2:]
    dy, dx = int(round(margin * h)), int(round(margin * w))
    images = images[:, dy:h - dy, dx:w - dx].float()
    parts = []
    for g in (images[:, :, 1:] - images[:, :, :-1], images[:, 1:, :] - images[:, :-1, :]):
        g = g.flatten(1)
        g = g - g.mean(1, keepdim=True)
        parts.append(g / g.norm(dim=1, keepdim=True).clamp_min(1e-8))
    return torch.cat(parts, 1)


def resize_area(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, np.float32))[:, None]
    return F.interpolate(x, size=(size, size), mode="area")[:, 0]


def parabola_offset(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sub-step offset of a peak from three samples at −1, 0, +1 (clamped to ±0.5)."""
    curvature = left - 2 * centre + right
    offset = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1.0), 0.0)
    return np.clip(offset, -0.5, 0.5)


class PoseDictionary:
    """The DRRs of one CT over a pose grid; `recover` reads the pose of images of that CT."""

    def __init__(self, volume: DensityVolume, drr: DRRConfig, config: RegistrationConfig):
        self.config = config
        render = dataclasses.replace(
            drr, geometry=dataclasses.replace(drr.geometry, pixels=config.pixels),
            physics=dataclasses.replace(drr.physics, photons_per_mm2=0.0), batch_size=64)
        grid = config.grid()
        self.shape = (len(grid),) * 3
        self.poses = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3)
        projector = TorchProjector(volume, render.geometry, render.physics)
        images, _, _ = render_views(projector, self.poses, render, torch.Generator())
        self.features = ngc_features(torch.from_numpy(images), config.margin)

    def scores(self, images) -> torch.Tensor:
        """(M, H, W) images in [0, 1] → (M, grid poses) NGC."""
        query = ngc_features(resize_area(images, self.config.pixels), self.config.margin)
        return query @ self.features.T / 2

    def recover(self, images) -> np.ndarray:
        """(M, H, W) images in [0, 1] → (M, 3) recovered poses in degrees."""
        scores = self.scores(images).numpy().reshape(-1, *self.shape)
        best = np.array(np.unravel_index(scores.reshape(len(scores), -1).argmax(1), self.shape)).T  # (M, 3)
        poses = self.config.grid()[best].astype(float)
        rows = np.arange(len(scores))
        for axis in range(3):
            inner = (best[:, axis] > 0) & (best[:, axis] < self.shape[axis] - 1)
            lo, hi = best.copy(), best.copy()
            lo[:, axis] = np.maximum(best[:, axis] - 1, 0)
            hi[:, axis] = np.minimum(best[:, axis] + 1, self.shape[axis] - 1)
            at = lambda idx: scores[rows, idx[:, 0], idx[:, 1], idx[:, 2]]  # noqa: E731
            offset = parabola_offset(at(lo), at(best), at(hi))
            poses[:, axis] += np.where(inner, offset, 0.0) * self.config.step_deg
        return poses


def rotation_error(recovered: np.ndarray, requested: np.ndarray) -> np.ndarray:
    """Mean over the three axes of |recovered − requested|, degrees, per image."""
    return np.abs(np.asarray(recovered, float) - np.asarray(requested, float)).mean(-1)
