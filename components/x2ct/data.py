"""The biplanar cases of some CTs as tensors: truth volumes, lifted views, and who they belong to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from components.config import Params
from components.drr.geometry import Geometry
from components.x2ct.biplanar import load_cases
from components.x2ct.grid import VolumeGrid, condition, normalise


@dataclass
class Cases:
    hu: np.ndarray  # (N, n, n, n) truth on the grid
    ap: np.ndarray  # (N, p, p) views in [0, 1]
    lateral: np.ndarray
    cond: torch.Tensor  # (N, 2, n, n, n) lifted views in [-1, 1]
    ct_ids: list[str]
    patient_ids: list[str]
    case: list[int]  # the pose's number within its CT (0: as positioned)

    @property
    def volume(self) -> torch.Tensor:
        """(N, 1, n, n, n) truth in the model's [-1, 1]."""
        return normalise(torch.from_numpy(self.hu.astype(np.float32)))[:, None]

    def __len__(self) -> int:
        return len(self.hu)


def load_split(folder: str | Path, folds: list[int], grid: VolumeGrid, geometry: Geometry) -> Cases:
    """Every case of the CTs in `folds` (biplanar/index.csv), in ct_id order."""
    index = pd.read_csv(Path(folder) / "index.csv")
    index = index[index["fold"].isin([int(f) for f in folds])].sort_values("ct_id")
    if index.empty:
        raise ValueError(f"{folder}/index.csv: no CT in folds {list(folds)}")
    parts = {"hu": [], "ap": [], "lateral": []}
    ct_ids, patients, case = [], [], []
    for row in index.itertuples():
        c = load_cases(folder, row.ct_id)
        for key in parts:
            parts[key].append(c[key])
        ct_ids += [row.ct_id] * len(c["hu"])
        patients += [row.patient_id] * len(c["hu"])
        case += list(range(len(c["hu"])))
    hu, ap, lateral = (np.concatenate(parts[k]) for k in ("hu", "ap", "lateral"))
    cond = condition(torch.from_numpy(ap).float(), torch.from_numpy(lateral).float(), grid, geometry)
    return Cases(hu, ap, lateral, cond, ct_ids, patients, case)


def cases_in_folds(params: Params, folds: list[int]) -> Cases:
    """The biplanar stage's cases of `folds`, lifted on params' grid with the views' geometry."""
    return load_split(params.biplanar.out, folds, VolumeGrid.from_params(params.biplanar.grid),
                      Geometry(**params.drrs.geometry.to_dict()))


class VolumePairs(Dataset):
    """(truth volume, lifted views) per case, for the trainer."""

    def __init__(self, volume: torch.Tensor, cond: torch.Tensor) -> None:
        self.volume, self.cond = volume, cond

    def __len__(self) -> int:
        return len(self.volume)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        return {"volume": self.volume[k], "cond": self.cond[k]}
