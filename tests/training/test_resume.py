"""Exact resume on the real data path: real shards, PairDataModule with its transforms. The kill -9
and SIGTERM resumes are in tests/faults/test_kill.py, with every other kill test."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import torch

from components.drr.render import render_ct_shard
from tests.conftest import PROJECT_ROOT
from tests.params import drr_config


@pytest.fixture
def shards(tmp_path, tiny_pool):
    """Shards of the tiny pool (varied CTs, 9 DRRs each) and a folds.csv: folds 1-3 train, 4 val."""
    manifest = pd.read_csv(tiny_pool / "manifest.csv")
    config = drr_config(drrs_per_ct=9, volume_spacing_mm=4.0, geometry={"pixels": 16, "detector_mm": 380})
    out = tmp_path / "drrs"
    for _, row in manifest.iterrows():
        render_ct_shard(tiny_pool / row["path"], row["ct_id"], out, config)
    folds = manifest[["ct_id", "patient_id"]].assign(fold=[1, 1, 2, 2, 3, 3, 4, 4])
    folds["role"] = folds["fold"].map({1: "train", 2: "train", 3: "train", 4: "val"})
    folds.to_csv(tmp_path / "folds.csv", index=False)
    return out, tmp_path / "folds.csv"


def run(folder, steps, shards, *extra, expect=0):
    env = {**os.environ, "SHARDS": str(shards[0]), "FOLDS": str(shards[1]), "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.training.resume_run", str(folder), str(steps), *extra],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == expect, done.stderr[-3000:]
    return folder / "weights.pt"


def tiny_data(shards, val_shard_dir: str | None = None):
    from components.data.datamodule import PairDataModule

    data = PairDataModule(str(shards[0]), str(shards[1]), [1, 2, 3], [4], batch_size=2, histogram="match", seed=0,
                          max_val_pairs=4, val_shard_dir=val_shard_dir)
    data.setup()
    return data


def test_transforms_draw_differently_on_every_item(shards):
    """The data must be able to expose a resume that replays or skips draws: no two items alike."""
    data = tiny_data(shards)
    items = [data.train_set[0]["source"] for _ in range(3)]
    assert not torch.equal(items[0], items[1]) and not torch.equal(items[1], items[2])


def test_validation_can_read_the_radiograph_style_shards(tmp_path, shards):
    """The sweep's objective: validation pairs from another shard folder (same CTs, same poses)."""
    import shutil

    from components.drr.shards import Shard

    styled = tmp_path / "xray"
    shutil.copytree(shards[0], styled)
    for path in styled.glob("*.npz"):  # a recognisable 'style': the images inverted
        shard = Shard(path)
        from components.drr.shards import write_shard
        write_shard(path, 1 - shard.images, shard.poses, shard.roles, shard.raw_min, shard.raw_max, shard.meta)
    plain, styled_data = tiny_data(shards), tiny_data(shards, val_shard_dir=str(styled))
    a, b = plain.val_set[0]["source"], styled_data.val_set[0]["source"]
    assert torch.allclose(a, -b, atol=1e-4)  # [0, 1] inverted is [-1, 1] negated


def test_a_checkpoint_of_another_run_is_never_resumed(tmp_path):
    from components.training.trainer import LAST, resume_point

    folder = tmp_path / "checkpoints"
    assert resume_point(folder, "a", resume=True) is None  # nothing yet; the key is recorded
    (folder / LAST).write_bytes(b"weights of run a")
    assert resume_point(folder, "a", resume=True) == folder / LAST
    assert resume_point(folder, "b", resume=True) is None  # other data, code or configuration
    assert not (folder / LAST).exists()
    (folder / LAST).write_bytes(b"weights of run b")
    (folder / "last-v1.ckpt").write_bytes(b"a versioned copy")
    assert resume_point(folder, "b", resume=False) is None  # not asked: replaced, never versioned beside
    assert not list(folder.glob("last*.ckpt"))
