"""How much a translation changes anatomy: edges and bone, compared with the source.

Intensities differ between domains by design, so content is compared through
what should survive a style change: edge maps (Sobel magnitude, each scaled to
[0, 1], compared by SSIM) and a bone mask (the brightest `bone_fraction` of each
image, compared by Dice). 1.0 means the anatomy is untouched.
"""

from __future__ import annotations

import numpy as np
from skimage.filters import sobel

from components.evaluation.metrics import image_metrics


def edge_map(image: np.ndarray) -> np.ndarray:
    edges = sobel(np.asarray(image, np.float64))
    return edges / edges.max() if edges.max() > 0 else edges


def bone_mask(image: np.ndarray, bone_fraction: float = 0.15) -> np.ndarray:
    return image >= np.quantile(image, 1.0 - bone_fraction)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2.0 * np.logical_and(a, b).sum() / total) if total else 1.0


def content_preservation(source: np.ndarray, translated: np.ndarray) -> dict[str, float]:
    return {"edge_ssim": image_metrics(edge_map(translated), edge_map(source))["ssim"],
            "bone_dice": dice(bone_mask(translated), bone_mask(source))}
