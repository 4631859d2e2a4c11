"""The input guard: how far a radiograph lies from the images the model learned from.

A radiograph's features are the pose regressor's convolutional trunk, fed the
image as both views of a pair and averaged over space. The training folds'
DRRs and radiograph-style images give a mean and a shrunk covariance (Ledoit–Wolf,
scikit-learn); an input's Mahalanobis distance to them, divided by the 99th
percentile of the validation fold's distances, is its *domain score*: ≤ 1 is as
typical as 99 % of the validation images, > 1 is not. A score above 1 is a warning, never a
refusal: the model has not been shown to work there (another body part, a lateral view,
a photograph of a film).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

GUARD_FILE, REGRESSOR_FILE, CONFIG_FILE = "guard.safetensors", "regressor.safetensors", "config.json"
QUANTILE = 0.99


def features(net: torch.nn.Module, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    """(n, 1, S, S) images in [-1, 1] → (n, d) trunk features of the pose regressor."""
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start:start + batch].float()
            out.append(net.eval().net(torch.cat([x, x], 1)).mean(dim=(2, 3)).double().numpy())
    return np.concatenate(out)


@dataclass
class DomainGuard:
    mean: np.ndarray  # (d,)
    precision: np.ndarray  # (d, d): the inverse of the shrunk covariance
    threshold: float  # the validation fold's QUANTILE distance
    validation_images: int = 0

    @classmethod
    def fit(cls, reference: np.ndarray, validation: np.ndarray) -> DomainGuard:
        from sklearn.covariance import LedoitWolf

        estimate = LedoitWolf().fit(reference)
        guard = cls(estimate.location_, estimate.precision_, 1.0, len(validation))
        guard.threshold = float(np.quantile(guard.distance(validation), QUANTILE))
        return guard

    def distance(self, feats: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(feats) - self.mean
        return np.sqrt(np.einsum("ni,ij,nj->n", d, self.precision, d))

    def score(self, feats: np.ndarray) -> np.ndarray:
        return self.distance(feats) / self.threshold

    def save(self, folder: str | Path) -> None:
        save_file({"mean": torch.from_numpy(self.mean), "precision": torch.from_numpy(self.precision),
                   "threshold": torch.tensor([self.threshold], dtype=torch.float64),
                   "validation_images": torch.tensor([self.validation_images])}, str(Path(folder) / GUARD_FILE))

    @classmethod
    def load(cls, folder: str | Path) -> DomainGuard:
        t = load_file(str(Path(folder) / GUARD_FILE))
        return cls(t["mean"].numpy(), t["precision"].numpy(), float(t["threshold"][0]),
                   int(t["validation_images"][0]))


class InputGuard:
    """A guard with the network whose features it reads: what a model folder carries in `guard/`."""

    def __init__(self, net: torch.nn.Module, guard: DomainGuard) -> None:
        self.net, self.guard = net.eval(), guard

    @classmethod
    def load(cls, folder: str | Path) -> InputGuard:
        from components.models.pose_regressor import load_regressor

        return cls(load_regressor(folder), DomainGuard.load(folder))

    def score(self, images: torch.Tensor) -> np.ndarray:
        """(n, 1, S, S) images in [-1, 1], prepared as the model sees them → domain scores."""
        return self.guard.score(features(self.net, images.cpu()))

    @staticmethod
    def files(folder: str | Path) -> list[Path]:
        return [Path(folder) / f for f in (REGRESSOR_FILE, CONFIG_FILE, GUARD_FILE)]


def describe(score: float) -> str:
    """One line for a person: what the score means for this input."""
    if not np.isfinite(score):
        return "domain check: not available (the model carries no input guard)"
    if score <= 1:
        return f"domain check: {score:.2f} (≤ 1: like the AP pelvis radiographs the model was validated on)"
    return (f"warning: domain score {score:.2f} > 1: this image does not look like the AP pelvis radiographs the "
            "model was trained and validated on; its output is not supported there")



def calibrate(net: torch.nn.Module, reference: list[np.ndarray], validation: list[np.ndarray], size: int,
              ) -> DomainGuard:
    """A guard from [0, 1] images (any size): the training folds' and the validation fold's."""
    return DomainGuard.fit(features(net, model_inputs(reference, size)), features(net, model_inputs(validation, size)))


def model_inputs(images: list[np.ndarray], size: int) -> torch.Tensor:
    """Images as the model sees them (components/sampling/rotate.prepare): padded square, resized, [-1, 1]."""
    from components.sampling.rotate import prepare

    return torch.cat([prepare(np.asarray(im, np.float64), size).tensor for im in images])
