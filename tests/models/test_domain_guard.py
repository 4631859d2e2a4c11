"""The input guard: calibrated on one kind of image, it scores held-out images of that kind ≤ 1 and
another kind far above; a model folder carries it and refuses a tampered copy."""

import numpy as np
import pytest
import torch

from components.models.domain_guard import InputGuard, calibrate, describe, model_inputs
from components.models.pose_regressor import build_regressor, save_regressor
from tests.params import inference

SIZE = 32


def pelvis_like(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """A bright ring (the pelvic inlet) between two blobs (the femoral heads), jittered: one kind of image."""
    yy, xx = np.mgrid[0:48, 0:40] / 40.0
    images = []
    for _ in range(n):
        cx, cy, r = 0.5 + rng.normal(0, 0.03), 0.5 + rng.normal(0, 0.03), 0.25 + rng.normal(0, 0.02)
        ring = np.exp(-((np.hypot(xx - cx, yy - cy) - r) ** 2) / 0.002)
        heads = sum(np.exp(-((xx - cx - s * 0.3) ** 2 + (yy - cy - 0.35) ** 2) / 0.005) for s in (-1, 1))
        images.append(ring + heads + rng.normal(0, 0.05, xx.shape))
    return images


def chest_like(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Horizontal ribs over two dark lung fields: another kind."""
    yy, xx = np.mgrid[0:48, 0:40] / 40.0
    return [0.5 + 0.4 * np.sin(yy * 40 + rng.uniform(0, 6)) * (np.abs(xx - 0.5) > 0.1) + rng.normal(0, 0.05, xx.shape)
            for _ in range(n)]


@pytest.fixture(scope="module")
def guard_folder(tmp_path_factory):
    torch.manual_seed(0)
    net = build_regressor(SIZE, (8, 16, 32))
    rng = np.random.default_rng(0)
    guard = calibrate(net, pelvis_like(rng, 240), pelvis_like(rng, 100), SIZE)
    folder = tmp_path_factory.mktemp("pose")
    save_regressor(net, SIZE, (8, 16, 32), folder, {})
    guard.save(folder)
    return folder


def test_held_out_images_of_the_training_kind_score_low_and_another_kind_high(guard_folder):
    guard = InputGuard.load(guard_folder)
    rng = np.random.default_rng(1)
    same = guard.score(model_inputs(pelvis_like(rng, 50), SIZE))
    other = guard.score(model_inputs(chest_like(rng, 50), SIZE))
    assert np.mean(same <= 1) >= 0.9  # calibrated at the 99th percentile of held-out images like these
    assert np.all(other > 1) and np.median(other) > 3 * np.median(same)
    assert "warning" in describe(float(other[0])) and "warning" not in describe(float(np.median(same)))


def test_a_model_folder_carries_its_guard_and_refuses_a_tampered_one(tmp_path, guard_folder):
    from components.sampling.rotate import Rotator
    from tests.conftest import export_tiny_model

    folder = export_tiny_model(tmp_path / "m")  # no guard: the score says so
    assert np.isnan(Rotator.from_folder(folder).domain_score(pelvis_like(np.random.default_rng(2), 1)[0]))

    from components.models.unet import UNetConfig, build_unet
    from components.registry.export import export_model
    from tests.conftest import TINY_UNET

    config = UNetConfig.from_params({**TINY_UNET, "image_size": SIZE})
    folder = export_model(build_unet(config), config, tmp_path / "g", {}, inference(), guard=guard_folder)
    rotator = Rotator.from_folder(folder)
    rng = np.random.default_rng(3)
    assert rotator.domain_score(pelvis_like(rng, 1)[0]) <= 1.5 < rotator.domain_score(chest_like(rng, 1)[0])
    guard_file = folder / "guard" / "guard.safetensors"
    data = bytearray(guard_file.read_bytes())
    data[-1] ^= 0xFF
    guard_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="guard.safetensors"):
        Rotator.from_folder(folder)
