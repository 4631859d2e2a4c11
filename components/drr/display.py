"""From a log-transformed DRR to the stored image in [0, 1]: a window set by the body.

The report rescales DRR intensities to [0, 1]. A min–max over the whole field
lets air (−log(I/I0) ≈ 0) set the black point and one noisy pixel the white
point, so the body's soft tissue fills 0.65–0.80 of the range and bone adds
only a tenth of it: a washed-out silhouette. Instead the window is read from
the body's own pixels, as a radiographic display reads its window from the
exposed anatomy: the pixels attenuated by more than `body_threshold` (about
5 mm of water) are the body; their `low_quantile` is black and their
`high_quantile` white. Air and the thinnest edge of the body clip to 0, the
densest bone paths to 1; no single pixel sets either end.

Before the window, the large-scale thickness variation of the body is
compressed as a digital radiography system does (unsharp-mask dynamic-range
compression): a fraction `equalisation` of the log image blurred at
`equalisation_sigma_mm` (at the detector) is subtracted. Without it, 20 cm of
soft tissue spans most of the range and a femoral head adds a tenth of it; with
it, bone edges carry the contrast a radiologist reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Display:
    body_threshold: float  # −log(I/I0) above which a pixel is body
    low_quantile: float  # of the body's pixels: black
    high_quantile: float  # of the body's pixels: white
    equalisation: float  # fraction of the blurred log image subtracted (0: none)
    equalisation_sigma_mm: float  # at the detector

    def to_dict(self) -> dict:
        return asdict(self)


def window(images: torch.Tensor, display: Display,
           pixel_mm: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, H, W) log images → (images windowed to [0, 1], low end (B,), high end (B,)).

    `pixel_mm` is the detector pitch (for the equalisation blur). An image with no body in view
    (fewer than 16 body pixels) is windowed over all its pixels. The ends are in the units of the
    equalised log image.
    """
    body_mask = images > display.body_threshold
    if display.equalisation > 0:
        images = images - display.equalisation * blur(images, display.equalisation_sigma_mm / pixel_mm)
    quantiles = torch.tensor([display.low_quantile, display.high_quantile], dtype=images.dtype,
                             device=images.device)
    lows, highs = [], []
    for row, inside in zip(images.flatten(1), body_mask.flatten(1)):
        body = row[inside]
        lo, hi = torch.quantile(body if body.numel() >= 16 else row, quantiles)
        lows.append(lo)
        highs.append(hi)
    lo, hi = torch.stack(lows), torch.stack(highs)
    span = (hi - lo).clamp_min(1e-6)
    scaled = ((images - lo[:, None, None]) / span[:, None, None]).clamp(0.0, 1.0)
    return scaled, lo, hi


def gaussian_kernel(sigma_px: float, device=None) -> torch.Tensor:
    radius = max(1, int(3 * sigma_px))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / max(sigma_px, 1e-3)) ** 2)
    return k / k.sum()


def blur(images: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian blur with edge replication, (B, r, c) → (B, r, c)."""
    kernel = gaussian_kernel(sigma_px, images.device).to(images.dtype)
    pad = kernel.numel() // 2
    x = images[:, None]
    x = F.conv2d(F.pad(x, (pad, pad, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, pad, pad), mode="replicate"), kernel.view(1, 1, -1, 1))
    return x[:, 0]
