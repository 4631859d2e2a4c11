"""Training pairs over shards."""

import numpy as np
import pandas as pd
import torch

from components.data.pairs import DRRPairs, expected_pairs_per_ct, valid_pairs
from components.drr.render import render_ct_shard
from tests.params import drr_config


def test_valid_pairs_are_within_15_degrees_both_directions():
    poses = np.array([[0, 0, 0], [15, 0, 0], [-14, 0, 0], [5, 5, 5]], float)
    pairs = {tuple(p) for p in valid_pairs(poses)}
    assert (0, 1) in pairs and (1, 0) in pairs
    assert (1, 2) not in pairs and (2, 1) not in pairs  # 29° apart
    assert (2, 3) not in pairs  # 19° apart on x
    assert all(i != j for i, j in pairs)
    assert len(pairs) == 8


def test_paper_scale_pair_count_is_documented():
    per_ct = expected_pairs_per_ct(512, trials=3)
    assert 100_000 < per_ct < 160_000  # the README and pairs.py quote ~131,000


def test_dataset_yields_source_target_and_scaled_angles(tmp_path, tiny_pool):
    manifest = pd.read_csv(tiny_pool / "manifest.csv").head(2)
    config = drr_config(drrs_per_ct=5, volume_spacing_mm=4.0, geometry={"pixels": 16})
    for _, row in manifest.iterrows():
        render_ct_shard(tiny_pool / row["path"], row["ct_id"], tmp_path, config)
    pairs = DRRPairs(tmp_path, list(manifest["ct_id"]))
    assert len(pairs) > 0
    item = pairs[len(pairs) - 1]
    assert item["source"].shape == (1, 16, 16) and item["target"].shape == (1, 16, 16)
    assert torch.allclose(item["angles"] * 15, item["delta_deg"])
    assert item["delta_deg"].abs().max() <= 15
    loader = torch.utils.data.DataLoader(pairs, batch_size=4, shuffle=True)
    batch = next(iter(loader))
    assert batch["source"].shape == (4, 1, 16, 16) and batch["angles"].shape == (4, 3)


def test_missing_shard_is_named(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="CTnope"):
        DRRPairs(tmp_path, ["CTnope"])
