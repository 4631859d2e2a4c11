"""Metrics against hand-computed values; the baselines' geometry."""

import math

import numpy as np
import pandas as pd
import pytest

from components.evaluation.baselines import affine_warp, identity
from components.evaluation.metrics import angle_bin, image_metrics
from components.evaluation.protocol import summarise
from tests.params import protocol


def test_metrics_by_hand():
    truth = np.zeros((16, 16))
    generated = np.full((16, 16), 0.1)
    m = image_metrics(generated, truth)
    assert m["mae"] == pytest.approx(0.1)
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / 0.01), rel=1e-5)  # MSE 0.01 → 20 dB
    same = image_metrics(truth + 0.5, truth + 0.5)
    assert same["mae"] == 0 and same["ssim"] == pytest.approx(1.0)


def test_ssim_falls_with_structure_loss():
    rng = np.random.default_rng(0)
    truth = rng.random((32, 32))
    noisy = np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1)
    assert image_metrics(noisy, truth)["ssim"] < image_metrics(truth * 0.9 + 0.05, truth)["ssim"] <= 1


@pytest.mark.parametrize("delta, expected", [((0, 0, 0), "0-5"), ((5, -1, 0), "0-5"), ((0, 0, -5.5), "5-10"),
                                             ((15, 0, 0), "10-15"), ((0, 20, 0), ">15")])
def test_angle_bins(delta, expected):
    assert angle_bin(delta) == expected


def test_summary_groups_by_domain_method_bin():
    rows = pd.DataFrame([
        {"domain": "drr", "method": "identity", "bin": "5-10", "patient_id": "a", "mae": 0.5, "psnr": 6.0, "ssim": 0.5},
        {"domain": "drr", "method": "identity", "bin": "0-5", "patient_id": "a", "mae": 0.1, "psnr": 20.0, "ssim": 0.9},
        {"domain": "drr", "method": "identity", "bin": "0-5", "patient_id": "b", "mae": 0.3, "psnr": 10.0, "ssim": 0.7}])
    s = summarise(rows, protocol(bootstrap=100))["drr"]["identity"]
    assert list(s) == ["0-5", "5-10", "all"]
    assert s["0-5"]["mae"] == pytest.approx(0.2) and s["0-5"]["n"] == 2
    assert s["all"]["mae"] == pytest.approx(0.3) and s["all"]["n"] == 3


def test_identity_and_a_pure_in_plane_rotation():
    image = np.zeros((33, 33), np.float32)
    image[16, 20:30] = 1.0  # a bar to the right of centre
    assert np.array_equal(identity(image, (0, 0, 0)), image)
    assert np.allclose(affine_warp(image, (0, 0, 0)), image, atol=1e-5)  # grid rounding only
    turned = affine_warp(image, (0, 90, 0))
    # +90° about y (posterior axis): +x goes to −z, i.e. down the image.
    rows, cols = np.nonzero(turned > 0.5)
    assert rows.min() > 16 and np.all(np.abs(cols - 16) <= 1)


def test_rotation_about_z_foreshortens_horizontally():
    image = np.zeros((33, 33), np.float32)
    image[10:23, 6:27] = 1.0
    narrowed = affine_warp(image, (0, 0, 60))  # cos 60° = 0.5
    widths = (narrowed > 0.5).sum(axis=1)
    assert widths.max() == pytest.approx(21 * 0.5, abs=1.5)
