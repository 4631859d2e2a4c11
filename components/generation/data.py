"""The generation_data stage's work: the pool's radiograph-style images with their labels.

Every pool CT of the folds, every pose the drrs stage drew for it: the
radiograph-style image the xray_domain stage rendered at that pose (what users
want to generate), area-downsampled to `image_size`, with its labels —
- view: oblique when the pose turns the pelvis about the head-foot axis (z)
  beyond `oblique_deg`, else AP;
- prosthesis right / left: metal voxels on that side of the CT's midline (the
  pool manifest's `metal_right`, `metal_left`, computed at ingest from the CT, so
  a real CT gets them as a phantom does);
- sex, age, BMI: the manifest's, where the CT's header or sidecar gave them,
  else unknown (NaN in the vector: the null embedding).
Writes `images.npz` (uint16 images, float32 label vectors, ids) and `labels.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from components.atomic_write import atomic_path
from components.config import Params
from components.drr.shards import SHARD_SUFFIX, Shard
from components.generation.labels import UNKNOWN, Labels, view_of
from components.pixels import quantise

IMAGES, LABELS_CSV = "images.npz", "labels.csv"


@dataclass
class Images:
    """Images in [0, 1] (N, s, s), their label vectors (N, len(LABELS)) and whose they are."""

    images: np.ndarray
    labels: np.ndarray
    ct_ids: np.ndarray
    patient_ids: np.ndarray
    folds: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, mask) -> Images:
        return Images(*(a[mask] for a in (self.images, self.labels, self.ct_ids, self.patient_ids, self.folds)))

    def in_folds(self, folds) -> Images:
        return self.subset(np.isin(self.folds, [int(f) for f in folds]))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 1, s, s) images in the model's [-1, 1], (N, K) label vectors."""
        return torch.from_numpy(self.images[:, None] * 2 - 1), torch.from_numpy(self.labels)


def downsample(images01: np.ndarray, size: int) -> np.ndarray:
    return F.interpolate(torch.from_numpy(images01)[:, None], size=size, mode="area")[:, 0].numpy()


def ct_labels(row: pd.Series) -> dict:
    """A manifest row's labels that hold for every view of the CT (NaN and "unknown" → None)."""
    def known(value):
        return None if pd.isna(value) or value == UNKNOWN else value

    right, left = bool(row["metal_right"]), bool(row["metal_left"])
    return {"prosthesis": {(False, False): "none", (True, False): "right", (False, True): "left",
                           (True, True): "both"}[(right, left)],
            "sex": known(row["sex"]), "age": known(row["age_years"]), "bmi": known(row["bmi"])}


def build_generation_data(params: Params) -> pd.DataFrame:
    """Write images.npz and labels.csv into `generation_data.out`; returns the label table."""
    cfg = params.generation_data
    manifest = pd.read_csv(Path(params.ct_pool.out) / "manifest.csv").set_index("ct_id")
    folds = pd.read_csv(params.folds.csv)
    images, vectors, rows = [], [], []
    for ct_id, patient_id, fold in folds[["ct_id", "patient_id", "fold"]].itertuples(index=False):
        shard = Shard(Path(params.xray_domain.out) / f"{ct_id}{SHARD_SUFFIX}")
        images.append(downsample(shard.images, cfg.image_size))
        fixed = ct_labels(manifest.loc[ct_id])
        for k, pose in enumerate(shard.poses):
            labels = Labels(view=view_of(float(pose[2]), float(cfg.oblique_deg)), **fixed)
            vectors.append(labels.vector())
            rows.append({"ct_id": ct_id, "patient_id": patient_id, "fold": int(fold), "pose": k,
                         "rx": float(pose[0]), "ry": float(pose[1]), "rz": float(pose[2]), **labels.to_dict()})
    table = pd.DataFrame(rows)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / IMAGES) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=quantise(np.concatenate(images), 16), labels=np.stack(vectors),
                            ct_ids=table["ct_id"].to_numpy(str), patient_ids=table["patient_id"].to_numpy(str),
                            folds=table["fold"].to_numpy(np.int64))
    with atomic_path(out / LABELS_CSV) as tmp:
        table.to_csv(tmp, index=False)
    return table


def load_images(folder: str | Path) -> Images:
    with np.load(Path(folder) / IMAGES, allow_pickle=False) as data:
        return Images(data["images"].astype(np.float32) / 65535.0, data["labels"], data["ct_ids"],
                      data["patient_ids"], data["folds"])
