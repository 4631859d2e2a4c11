"""Modes A and B on a small untrained model: shapes, padding, noise sharing, histogram, errors."""

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from components.models.unet import UNetConfig, build_unet
from components.sampling.rotate import AngleOutOfRange, Rotator, prepare, restore
from components.sampling.video import write_video


@pytest.fixture(scope="module")
def rotator():
    torch.manual_seed(0)
    model = build_unet(UNetConfig(image_size=16, channels=(8, 16), attention_levels=(False, True),
                                  num_head_channels=8, norm_num_groups=8))
    return Rotator(model, 16)


def radiograph(h=30, w=50, seed=0):
    return np.random.default_rng(seed).gamma(2.0, 100.0, (h, w))


def test_any_aspect_ratio_is_padded_and_restored():
    image = radiograph(30, 50)
    prep = prepare(image, 16)
    assert prep.tensor.shape == (1, 1, 16, 16) and prep.pad == (10, 10, 0, 0)
    assert float(prep.tensor.min()) >= -1 and float(prep.tensor.max()) <= 1
    out = restore(prep.tensor[0, 0], prep)
    assert out.shape == (30, 50)


def test_rotate_returns_input_resolution_with_the_input_histogram(rotator):
    image = radiograph()
    [view] = rotator.rotate(image, [[0, 0, 10]], steps=3)
    assert view.shape == image.shape
    expected = (np.sort(image.ravel()) - image.min()) / np.ptp(image)
    assert np.abs(np.sort(view.ravel()) - expected).max() < 0.02


def test_views_share_noise_and_seed_fixes_output(rotator):
    image = radiograph()
    a = rotator.rotate(image, [[0, 0, 10], [0, 0, 10]], steps=3, seed=1)
    b = rotator.rotate(image, [[0, 0, 10]], steps=3, seed=1)
    c = rotator.rotate(image, [[0, 0, 10]], steps=3, seed=2)
    assert np.allclose(a[0], a[1], atol=1e-5) and np.allclose(a[0], b[0], atol=1e-5)
    assert not np.allclose(b[0], c[0])


def test_angles_beyond_training_range(rotator):
    with pytest.raises(AngleOutOfRange, match="beyond the ±15°"):
        rotator.rotate(radiograph(), [[0, 20, 0]], steps=2)
    [view] = rotator.rotate(radiograph(), [[0, 20, 0]], steps=2, allow_extrapolation=True)
    assert np.isfinite(view).all()


def test_mp4_sweep_has_the_requested_frames_and_rate(rotator, tmp_path):
    import imageio.v2 as imageio

    frames = rotator.sweep(radiograph(24, 32), "y", -15, 15, frames=7, batch=3, steps=2)
    out = tmp_path / "sweep.mp4"
    assert write_video(out, frames, fps=30) == 7
    with imageio.get_reader(out, format="FFMPEG") as reader:
        assert reader.get_meta_data()["fps"] == 30
        shapes = [frame.shape[:2] for frame in reader]
    assert shapes == [(24, 32)] * 7


def test_gif_keeps_distinct_frames(tmp_path):
    # Pillow merges identical consecutive GIF frames, so distinct ones are used here.
    frames = [np.full((10, 12), k / 6) for k in range(7)]
    out = tmp_path / "sweep.gif"
    assert write_video(out, frames, fps=10) == 7
    assert iio.imread(out, index=None).shape[:3] == (7, 10, 12)


def test_video_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=".mp4 or .gif"):
        write_video(tmp_path / "x.avi", [np.zeros((4, 4))])
    assert not list(tmp_path.iterdir())
