"""[0, 1] images ↔ stored integers: the one quantisation rule (clipped, rounded to nearest, half to even)."""

from __future__ import annotations

import numpy as np

DTYPES = {8: np.uint8, 16: np.uint16}


def quantise(image01: np.ndarray, bits: int = 8) -> np.ndarray:
    """An image in [0, 1] (values outside are clipped) as unsigned integers of `bits` (8 or 16)."""
    if bits not in DTYPES:
        raise ValueError(f"bit depth must be 8 or 16, not {bits}")
    return np.rint(np.clip(image01, 0.0, 1.0) * (2**bits - 1)).astype(DTYPES[bits])
