"""The pose_regressor stage's work: a network that reads the rotation between two views, and the input guard.

Trains on DRR pairs of the training folds; writes its folder (safetensors +
config.json, with its own error on validation-fold pairs in degrees) and the
input guard calibrated on its features (components/models/domain_guard.py): the
training folds' DRRs and radiograph-style images as the reference, the
validation fold's as the calibration. The train stage puts a copy of the guard
in the model folder.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from components.atomic_write import atomic_path
from components.config import Params
from components.data.datamodule import TransformedPairs
from components.data.folds import ct_ids_in_folds
from components.data.pairs import DRRPairs
from components.data.transforms import training_transforms
from components.drr.shards import SHARD_SUFFIX, Shard
from components.models.domain_guard import calibrate
from components.models.pose_regressor import PoseRegressorModule, predict_degrees, save_regressor
from components.training.trainer import make_trainer


def train_pose_regressor(params: Params) -> dict:
    cfg = params.pose_regressor
    L.seed_everything(cfg.seed, workers=True)
    ids = {"train": ct_ids_in_folds(params.folds.csv, list(params.folds.train)),
           "val": ct_ids_in_folds(params.folds.csv, [params.folds.val])}
    drr_dir = params.drrs.out
    transform = training_transforms(params.train.histogram_transform, zero_rows_prob=0.0, boxes_prob=0.0)
    transform.set_random_state(cfg.seed)
    train = TransformedPairs(DRRPairs(drr_dir, ids["train"]), transform)
    size = params.drrs.geometry.pixels
    module = PoseRegressorModule(size, tuple(cfg.channels), float(cfg.lr))
    make_trainer(cfg.max_steps, bf16=False, enable_checkpointing=False).fit(
        module, DataLoader(train, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                           generator=torch.Generator().manual_seed(cfg.seed)))
    val = DRRPairs(drr_dir, ids["val"])
    rng = np.random.default_rng(cfg.seed)
    picks = rng.choice(len(val), size=min(256, len(val)), replace=False)
    items = [val[int(k)] for k in picks]
    predicted = predict_degrees(module.net, np.stack([i["source"][0].numpy() for i in items]),
                                np.stack([i["target"][0].numpy() for i in items]))
    error = float(np.abs(predicted - np.stack([i["delta_deg"].numpy() for i in items])).mean())
    domains = [drr_dir, params.xray_domain.out]
    guard = calibrate(module.net, guard_images(domains, ids["train"], cfg.guard_images_per_ct, rng),
                      guard_images(domains, ids["val"], cfg.guard_images_per_ct, rng), size)
    with atomic_path(Path(cfg.out)) as tmp:
        tmp.mkdir(parents=True)
        save_regressor(module.net, size, list(cfg.channels), tmp, {"val_mean_abs_error_deg": error,
                                                                    "val_pairs": len(items)})
        guard.save(tmp)
    print(f"pose regressor: mean absolute angle error {error:.2f}° on {len(items)} validation pairs; input guard "
          f"calibrated on {guard.validation_images} validation images (99th-percentile distance {guard.threshold:.2f})")
    return {"val_mean_abs_error_deg": error}


def guard_images(domains: list[str], ct_ids: list[str], per_ct: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`per_ct` images of each CT in each domain's shards, drawn by the seeded generator."""
    images = []
    for folder in domains:
        for ct_id in sorted(ct_ids):
            shard = Shard(Path(folder) / f"{ct_id}{SHARD_SUFFIX}")
            picks = rng.choice(len(shard), size=min(per_ct, len(shard)), replace=False)
            images += [shard.image(int(k)) for k in sorted(picks)]
    return images
