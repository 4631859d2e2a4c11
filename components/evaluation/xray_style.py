"""A radiograph-style stand-in for real radiographs, with known anatomy and known truth.

Rendered from the same CT at the same poses as the DRRs, but through another
chain: a softer beam (70–85 kVp, less filtration), three times the scatter, fewer
photons, detector blur, a sigmoid film/detector response with random contrast
and latitude, a random gamma, collimation borders (unexposed: bright) and a
burned-in side marker. Intensities differ from the DRRs while the rotated ground
truth in the same style is known. It stands in for real radiographs; it is not one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from components.drr.geometry import Geometry
from components.drr.projector import DensityVolume, Physics, TorchProjector


@dataclass(frozen=True)
class Style:
    kvp: float
    scatter_fraction: float
    photons_per_pixel: float
    blur_px: float
    film_slope: float
    film_centre: float  # quantile of the log image at the film's mid-grey
    gamma: float
    collimation: tuple[float, float, float, float]  # top, bottom, left, right fractions
    marker_corner: int

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Style":
        return cls(kvp=float(rng.uniform(70, 85)), scatter_fraction=float(rng.uniform(0.25, 0.4)),
                   photons_per_pixel=float(rng.uniform(2000, 6000)), blur_px=float(rng.uniform(0.4, 1.0)),
                   film_slope=float(rng.uniform(3, 8)), film_centre=float(rng.uniform(0.35, 0.65)),
                   gamma=float(rng.uniform(0.6, 1.6)),
                   collimation=tuple(float(v) for v in rng.uniform(0.0, 0.08, 4)),
                   marker_corner=int(rng.integers(4)))

    def to_dict(self) -> dict:
        return asdict(self)


def film_response(log_image: np.ndarray, style: Style) -> np.ndarray:
    """Sigmoid characteristic curve on the log image, then gamma: [0, 1], bone bright."""
    lo, hi = np.percentile(log_image, [1, 99.5])
    x = (log_image - lo) / max(hi - lo, 1e-6)
    y = 1 / (1 + np.exp(-style.film_slope * (x - style.film_centre)))
    y = (y - y.min()) / max(np.ptp(y), 1e-6)
    return y**style.gamma


def collimate_and_mark(image: np.ndarray, style: Style) -> np.ndarray:
    h, w = image.shape
    out = image.copy()
    top, bottom, left, right = (int(f * n) for f, n in zip(style.collimation, (h, h, w, w)))
    mask = np.zeros_like(out, bool)
    mask[:top], mask[h - bottom:], mask[:, :left], mask[:, w - right:] = True, True, True, True
    out[mask] = 0.95  # unexposed film reads bright
    marker = Image.new("L", (w, h), 0)
    size = max(3, h // 10)
    x0 = 2 if style.marker_corner % 2 == 0 else w - size - 3
    y0 = 2 if style.marker_corner < 2 else h - size - 3
    ImageDraw.Draw(marker).rectangle([x0, y0, x0 + size, y0 + size], outline=255, width=max(1, size // 5))
    out[np.asarray(marker) > 0] = 1.0
    return out


def render_radiograph_style(volume: DensityVolume, geometry: Geometry, poses: np.ndarray, style: Style,
                            seed: int) -> np.ndarray:
    """(n, H, W) radiograph-style images in [0, 1] of one CT at `poses` (degrees)."""
    physics = Physics(kvp=style.kvp, filtration_mm_al=1.5, scatter_fraction=style.scatter_fraction,
                      scatter_sigma_mm=40.0, photons_per_pixel=style.photons_per_pixel)
    projector = TorchProjector(volume, geometry, physics)
    generator = torch.Generator().manual_seed(seed)
    out = []
    with torch.inference_mode():
        for start in range(0, len(poses), 8):
            for log_image in projector.render(poses[start:start + 8], generator=generator).cpu().numpy():
                blurred = ndimage.gaussian_filter(log_image, style.blur_px)
                out.append(collimate_and_mark(film_response(blurred, style), style))
    return np.clip(np.stack(out), 0, 1).astype(np.float32)
