"""Image metrics (torchmetrics) and rotation-magnitude bins.

Images are compared in [0, 1] (data range 1): MAE, PSNR (dB) and SSIM (11-pixel
Gaussian window). A pair's rotation magnitude is max |V| over the three axes,
binned by `edges` (degrees): (0, 5], (5, 10], (10, 15] by default.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

with warnings.catch_warnings():  # torchmetrics.functional's __init__ warns about names we do not use
    warnings.simplefilter("ignore", FutureWarning)
    from torchmetrics.functional import (
        mean_absolute_error,
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

METRICS = ("mae", "psnr", "ssim")


def image_metrics(generated: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """MAE, PSNR, SSIM of one (H, W) image against its truth, both in [0, 1]."""
    g = torch.as_tensor(np.asarray(generated, np.float32))[None, None]
    t = torch.as_tensor(np.asarray(truth, np.float32))[None, None]
    return {"mae": float(mean_absolute_error(g, t)),
            "psnr": float(peak_signal_noise_ratio(g, t, data_range=1.0)),
            "ssim": float(structural_similarity_index_measure(g, t, data_range=1.0))}


def angle_bin(delta_deg, edges=(0, 5, 10, 15)) -> str:
    magnitude = float(np.abs(delta_deg).max())
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo < magnitude <= hi or (lo == 0 and magnitude == 0):
            return f"{lo:g}-{hi:g}"
    return f">{edges[-1]:g}"


def bin_order(label: str) -> float:
    """Sort key: numeric by lower edge, `>15` after the bins, `all` last."""
    if label == "all":
        return float("inf")
    return float(label.lstrip(">").split("-")[0]) + (0.5 if label.startswith(">") else 0.0)
