"""Scores of a reconstructed volume: perfect is perfect, worse is worse, alignment undoes a shift."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.x2ct.grid import VolumeGrid
from components.x2ct.metrics import dice, paired_differences, reprojection_views, rigid_align, volume_scores
from tests.params import drr_config

GRID = VolumeGrid(16, 20.0)


def pelvis_like() -> np.ndarray:
    hu = np.full((16, 16, 16), -1000.0, np.float32)
    hu[2:14, 4:12, 2:14] = 30.0
    hu[5:11, 6:9, 4:7] = 900.0
    hu[5:11, 6:9, 9:12] = 900.0
    return hu


def test_a_perfect_output_scores_perfectly_and_a_blurred_one_worse():
    truth = pelvis_like()
    config = drr_config()
    ap, lateral = reprojection_views(truth, GRID, config)
    perfect = volume_scores(truth, truth, ap, lateral, GRID, config, bone_hu=200)
    assert perfect["ssim"] > 0.999 and perfect["ssim3d"] > 0.999 and perfect["bone_dice"] > 0.999
    assert perfect["mae_hu"] == 0 and perfect["reprojection_mae"] < 1e-6 and perfect["psnr"] > 60
    flat = np.where(truth > 500, 30.0, truth).astype(np.float32)  # the bone lost
    worse = volume_scores(flat, truth, ap, lateral, GRID, config, bone_hu=200)
    assert worse["ssim3d"] < perfect["ssim3d"] and worse["psnr"] < 40 and worse["mae_hu"] > 0
    assert np.isnan(worse["bone_dice"]) or worse["bone_dice"] == 0
    assert worse["reprojection_mae"] > 0.01


def test_rigid_alignment_undoes_a_shift_before_the_bone_dice():
    truth = pelvis_like()
    shifted = np.roll(truth, 2, axis=2)
    assert dice(shifted >= 200, truth >= 200) < 0.5
    aligned = rigid_align(shifted, truth, GRID.spacing_mm)
    assert dice(aligned >= 200, truth >= 200) > 0.8


def test_paired_differences_have_the_sign_of_the_better_method():
    rows = pd.DataFrame({"ct_id": np.repeat(["a", "b", "c"], 4), "patient_id": np.repeat(["p", "q", "r"], 4),
                         "case": np.tile(range(4), 3)})
    rng = np.random.default_rng(0)
    measures = ["psnr", "ssim", "ssim3d", "mae_hu", "bone_dice", "reprojection_mae"]
    worse = rows.assign(**{m: rng.normal(0, 0.01, len(rows)) for m in measures})
    better = worse.assign(ssim3d=worse["ssim3d"] + 0.1).sample(frac=1, random_state=0)  # any row order
    d = paired_differences(better, worse, 500, 0.95, 0)
    assert d["ssim3d"]["lo"] > 0.09 and abs(d["psnr"]["mean"]) < 1e-12
