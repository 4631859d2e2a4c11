"""The drrs gate names the CTs whose index rows or shards are wrong."""

import numpy as np
import pandas as pd
import pytest

from components.drr.shards import Shard, write_shard
from components.validation.drr_index import INDEX_COLUMNS, validate_drrs
from components.validation.gate import ValidationFailed


def make_shard(folder, ct_id, images=None, poses=None, roles=None):
    if images is None:
        images = np.random.default_rng(0).random((3, 8, 8)).astype(np.float32)
        images.reshape(3, -1)[:, 0], images.reshape(3, -1)[:, 1] = 0.0, 1.0  # rescaled to [0, 1]
    poses = np.array([[0, 0, 0], [3, -2, 1], [10, 4, -5]], np.float32) if poses is None else poses
    roles = np.array([0, 1, 2]) if roles is None else roles
    return Shard(write_shard(folder / f"{ct_id}.npz", images, poses, roles, np.zeros(3), np.ones(3),
                             {"ct_id": ct_id, "cache_key": "h"}))


def index_of(ids, n=3):
    return pd.DataFrame([{"ct_id": c, "patient_id": "P", "path": f"{c}.npz", "n_drrs": n, "height": 8, "width": 8,
                          "backend": "torch", "cache_key": "h", "sha256": "s"} for c in ids], columns=INDEX_COLUMNS)


def test_good_drrs_pass(tmp_path):
    shards = [make_shard(tmp_path, c) for c in ("CTa", "CTb")]
    validate_drrs(index_of(["CTa", "CTb"]), shards, ["CTa", "CTb"], 3, 8)


def test_missing_ct_and_wrong_count_are_named(tmp_path):
    shards = [make_shard(tmp_path, "CTa")]
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_equal"):
        validate_drrs(index_of(["CTa"]), shards, ["CTa", "CTb"], 3, 8)
    with pytest.raises(ValidationFailed, match=r"n_drrs\]: n_drrs=2 ct_id=CTa"):
        validate_drrs(index_of(["CTa"], n=2), shards, ["CTa"], 3, 8)


@pytest.mark.parametrize("broken, expectation", [
    (dict(poses=np.array([[1, 0, 0], [3, -2, 1], [10, 4, -5]], np.float32)), "drr0_first"),
    (dict(poses=np.array([[0, 0, 0], [3, -2, 1], [20, 4, -5]], np.float32)), "max_abs_angle"),
    (dict(images=np.zeros((3, 8, 8), np.float32)), "flat_images"),  # what min-max leaves of a blank DRR
])
def test_bad_shards_are_named(tmp_path, broken, expectation):
    shards = [make_shard(tmp_path, "CTgood"), make_shard(tmp_path, "CTbad", **broken)]
    with pytest.raises(ValidationFailed) as err:
        validate_drrs(index_of(["CTgood", "CTbad"]), shards, ["CTgood", "CTbad"], 3, 8)
    assert expectation in str(err.value) and "ct_id=CTbad" in str(err.value)
    assert "CTgood" not in str(err.value).split("shards")[-1]
