"""Training pairs: any two DRRs of one CT whose pose difference is within ±15° on every axis.

A pair (source i, target j) has the condition V = P_j − P_i (degrees). Both
directions are pairs, as in the report (DRR1 → DRR2 and DRR2 → DRR1, ...).

Size: the report's protocol yields 6 directed pairs per (DRR0, DRR1, DRR2)
triple; taking *every* two DRRs of a CT whose difference stays within ±15° gives
far more. With 512 DRRs per CT from this protocol, about half of the ordered pairs
qualify (~131,000 per CT, `expected_pairs_per_ct`; ~660 M over the report's 5,052
CTs); the report's "more than 15 million pairs from 2.5 million DRRs" (~3,000 per
CT) counts a subset. Pairs are
indexed, not materialised: the dataset stores (ct, i, j) triples of int32.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from components.drr.pose_protocol import MAX_ANGLE, draw_poses
from components.drr.shards import SHARD_SUFFIX, Shard


def valid_pairs(poses: np.ndarray, max_delta: float = MAX_ANGLE) -> np.ndarray:
    """(K, 2) ordered index pairs i ≠ j with |P_j − P_i| ≤ max_delta on every axis."""
    delta = np.abs(poses[None, :, :] - poses[:, None, :]).max(-1)
    ok = delta <= max_delta
    np.fill_diagonal(ok, False)
    return np.argwhere(ok).astype(np.int32)


def expected_pairs_per_ct(n_drrs: int = 512, trials: int = 20, seed: int = 0) -> float:
    """Mean number of valid ordered pairs per CT under the pose protocol (simulated)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([len(valid_pairs(draw_poses(n_drrs, rng)[0])) for _ in range(trials)]))


class DRRPairs(Dataset):
    """(source, target, V / 15) over the shards of the given CTs.

    Items are dicts: `source`, `target` (1, H, W) float32 in [0, 1]; `angles` (3,)
    float32, the rotation V scaled by 1/15 to [-1, 1]; `delta_deg` (3,) in degrees.
    """

    def __init__(self, shard_dir: str | Path, ct_ids: list[str], max_delta: float = MAX_ANGLE,
                 cache_shards: int = 16):
        self.shard_dir = Path(shard_dir)
        self.ct_ids = list(ct_ids)
        missing = [c for c in self.ct_ids if not (self.shard_dir / f"{c}{SHARD_SUFFIX}").exists()]
        if missing:
            raise FileNotFoundError(f"{self.shard_dir}: no shard for {len(missing)} CT(s), e.g. {missing[0]}")
        index = []
        for k, ct_id in enumerate(self.ct_ids):
            pairs = valid_pairs(self._shard(ct_id).poses, max_delta)
            index.append(np.column_stack([np.full(len(pairs), k, np.int32), pairs]))
        self.index = np.concatenate(index) if index else np.zeros((0, 3), np.int32)
        self._load = lru_cache(maxsize=cache_shards)(self._shard)

    def _shard(self, ct_id: str) -> Shard:
        return Shard(self.shard_dir / f"{ct_id}{SHARD_SUFFIX}")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> dict:
        k, i, j = self.index[item]
        shard = self._load(self.ct_ids[k])
        delta = shard.poses[j] - shard.poses[i]
        return {"source": torch.from_numpy(shard.image(i))[None],
                "target": torch.from_numpy(shard.image(j))[None],
                "angles": torch.from_numpy((delta / MAX_ANGLE).astype(np.float32)),
                "delta_deg": torch.from_numpy(delta.astype(np.float32))}
