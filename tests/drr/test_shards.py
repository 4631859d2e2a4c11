"""Shards round-trip, are never partial, and are kept only while current."""

import numpy as np
import pytest

from components.drr.render import DRRConfig, render_ct_shard
from components.drr.shards import SCALE, Shard, shard_key, write_shard
from tests.params import drr_config


def test_round_trip_and_recorded_scaling(tmp_path):
    images = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
    poses = np.array([[0, 0, 0], [1, 2, 3], [-4, 5, -6]], np.float32)
    path = write_shard(tmp_path / "CTx.npz", images, poses, np.array([0, 1, 2]), np.zeros(3), np.ones(3) * 7,
                       {"ct_id": "CTx", "cache_key": "abc"})
    shard = Shard(path)
    assert np.abs(shard.images - images).max() <= 0.5 / SCALE + 1e-7
    assert np.array_equal(shard.poses, poses) and list(shard.roles) == [0, 1, 2]
    assert shard.raw_max[0] == 7 and shard.meta["ct_id"] == "CTx"
    assert shard_key(path) == "abc"
    assert [p.name for p in tmp_path.iterdir()] == ["CTx.npz"]


def test_damaged_shard_is_not_current(tmp_path):
    (tmp_path / "CTy.npz").write_bytes(b"PK\x03\x04 cut short")
    assert shard_key(tmp_path / "CTy.npz") is None


@pytest.fixture
def one_ct(tiny_pool):
    import pandas as pd

    row = pd.read_csv(tiny_pool / "manifest.csv").iloc[0]
    return tiny_pool / row["path"], row["ct_id"]


def small_config(**changes) -> DRRConfig:

    return drr_config(drrs_per_ct=5, volume_spacing_mm=4.0, geometry={"pixels": 16}, **changes)


def test_render_skips_current_and_redoes_changed(tmp_path, one_ct):
    path, ct_id = one_ct
    first = render_ct_shard(path, ct_id, tmp_path, small_config())
    assert not first.skipped and len(Shard(first.path)) == 5
    assert render_ct_shard(path, ct_id, tmp_path, small_config()).skipped
    assert render_ct_shard(path, ct_id, tmp_path, small_config(batch_size=2)).skipped  # speed only
    changed = render_ct_shard(path, ct_id, tmp_path, small_config(seed=9))
    assert not changed.skipped and Shard(changed.path).meta["seed"] == 9


def test_same_seed_same_images_whatever_the_batch(tmp_path, one_ct):
    path, ct_id = one_ct
    a = Shard(render_ct_shard(path, ct_id, tmp_path / "a", small_config(batch_size=5)).path)
    b = Shard(render_ct_shard(path, ct_id, tmp_path / "b", small_config(batch_size=2)).path)
    assert np.array_equal(a.poses, b.poses)
    assert np.abs(a.images - b.images).max() < 1e-3  # identical noise draws; float sums may differ


def test_unknown_backend_says_why(tmp_path, one_ct):
    path, ct_id = one_ct
    with pytest.raises(RuntimeError, match="deepdrr"):
        render_ct_shard(path, ct_id, tmp_path, small_config(backend="deepdrr"))
