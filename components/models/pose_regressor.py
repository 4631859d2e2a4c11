"""A pose regressor: (source, target) → the rotation V between them, to measure rotation fidelity.

MONAI's `Regressor` on the two images stacked as channels, predicting V / 15.
Trained on DRR pairs of the training folds with the same histogram transform as
the diffusion model, so that it reads anatomy rather than intensities. Applied to
(source, generated view) it tells how far the generated rotation is from the one
asked for, in degrees; on (source, true target) it gives its own error floor.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets import Regressor

from components.drr.pose_protocol import MAX_ANGLE
from components.models.folder import load_weights, read_config, save_folder


def build_regressor(image_size: int, channels=(16, 32, 64, 64)) -> Regressor:
    return Regressor(in_shape=(2, image_size, image_size), out_shape=(3,), channels=tuple(channels),
                     strides=(2,) * len(channels))


class PoseRegressorModule(L.LightningModule):
    def __init__(self, image_size: int, channels=(16, 32, 64, 64), lr: float = 1e-3) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_regressor(image_size, channels)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([source, target], 1))

    def training_step(self, batch, batch_idx):
        loss = F.smooth_l1_loss(self(batch["source"], batch["target"]), batch["angles"], beta=0.1)
        self.log("pose/loss", loss, prog_bar=True, batch_size=len(batch["angles"]))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def predict_degrees(net: torch.nn.Module, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n, H, W) pairs in [0, 1] → predicted V in degrees, (n, 3)."""
    s = torch.from_numpy(np.asarray(sources, np.float32) * 2 - 1)[:, None]
    t = torch.from_numpy(np.asarray(targets, np.float32) * 2 - 1)[:, None]
    with torch.no_grad():
        return (net.eval()(torch.cat([s, t], 1)) * MAX_ANGLE).numpy()


def save_regressor(net: torch.nn.Module, image_size: int, channels, folder: str | Path, extra: dict) -> None:
    save_folder(folder, {"regressor": net}, {"image_size": image_size, "channels": list(channels), **extra})


def load_regressor(folder: str | Path) -> Regressor:
    config = read_config(folder, "pose regressor")
    net = build_regressor(config["image_size"], config["channels"])
    net.load_state_dict(load_weights(folder, "regressor", config))
    return net.eval()
