"""The label reader: what the generation evaluation measures with, in place of Inception.

No Inception weights can be downloaded here, so the measures use a classifier
trained on real (rendered) images of the training folds: MONAI's `Regressor`
with three logits — oblique view, prosthesis right, prosthesis left (the labels
an image shows; sex and age do not show in the synthetic pool's anatomy). Its
accuracy on generated images against held-out real ones is label fidelity; the
global average of its last feature map (channels[-1] values) is the feature
space of the Fréchet distance and of diversity.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets import Regressor

from components.generation.labels import LABELS
from components.models.folder import load_weights, read_config, replace_folder

READ = ("view", "prosthesis_right", "prosthesis_left")
COLUMNS = [LABELS.index(k) for k in READ]


def build_reader(image_size: int, channels) -> Regressor:
    return Regressor(in_shape=(1, image_size, image_size), out_shape=(len(READ),), channels=tuple(channels),
                     strides=(2,) * len(channels))


def read_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy over the labels each image has (a NaN label adds nothing)."""
    target = labels[:, COLUMNS]
    known = ~torch.isnan(target)
    return F.binary_cross_entropy_with_logits(logits[known], target[known])


class ReaderModule(L.LightningModule):
    def __init__(self, image_size: int, channels, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_reader(image_size, channels)

    def training_step(self, batch, batch_idx):
        loss = read_loss(self.net(batch["image"]), batch["labels"])
        self.log("reader/bce", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.lr)


@torch.no_grad()
def read_images(net: Regressor, images01: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(N, s, s) images in [0, 1] → (predicted labels (N, 3) as 0/1, features (N, channels[-1]))."""
    net.eval()
    labels, features = [], []
    for first in range(0, len(images01), batch):
        x = torch.from_numpy(np.asarray(images01[first:first + batch], np.float32) * 2 - 1)[:, None]
        maps = net.net(x)
        labels.append((net.final(maps) > 0).numpy().astype(np.int64))
        features.append(maps.mean(dim=(2, 3)).numpy().astype(np.float64))
    return np.concatenate(labels), np.concatenate(features)


def save_reader(folder: str | Path, net: Regressor, image_size: int, channels, extra: dict) -> None:
    replace_folder(folder, {"reader": net}, {"kind": "label-reader", "image_size": image_size,
                                             "channels": list(channels), "reads": list(READ), **extra}, load_reader)


def load_reader(folder: str | Path) -> Regressor:
    config = read_config(folder, "label reader")
    net = build_reader(config["image_size"], config["channels"])
    net.load_state_dict(load_weights(folder, "reader", config))
    return net.eval()
