"""The display window: set by the body, not by air or one pixel; equalisation brings bone forward."""

import numpy as np
import torch

from components.drr.display import window
from tests.params import display


def phantom_log_image():
    """A log image: air around an elliptic body whose thickness grows towards the middle, and a bone disc."""
    y, x = np.mgrid[:64, :64] / 63.0 * 2 - 1
    body = np.clip(1 - (x / 0.8) ** 2 - (y / 0.9) ** 2, 0, None)
    log = 4.0 * np.sqrt(body)  # soft tissue: up to 4
    bone = (x - 0.3) ** 2 + (y + 0.1) ** 2 < 0.15 ** 2
    log[bone] += 0.8  # a femoral head adds a fifth
    return torch.tensor(log[None], dtype=torch.float32), bone, body > 0


def test_air_is_black_and_one_hot_pixel_does_not_set_the_window():
    log, _, inside = phantom_log_image()
    plain = display(equalisation=0.0)
    scaled, lo, hi = window(log, plain)
    hot = log.clone()
    hot[0, 0, 0] = 50.0  # one noisy pixel in the air
    scaled_hot, lo_hot, hi_hot = window(hot, plain)
    assert float(scaled[0][~torch.from_numpy(inside)].max()) == 0.0
    assert float(hi) < 5.0 and float(hi_hot) < 5.0  # a min–max would have put white at 50
    assert torch.allclose(lo, lo_hot, rtol=1e-3) and torch.allclose(hi, hi_hot, rtol=1e-3)
    assert torch.allclose(scaled[0, 1:], scaled_hot[0, 1:], atol=1e-3)


def test_equalisation_raises_bone_contrast_against_adjacent_soft_tissue():
    log, bone, inside = phantom_log_image()
    ring = np.zeros_like(bone)
    y, x = np.mgrid[:64, :64] / 63.0 * 2 - 1
    ring[((x - 0.3) ** 2 + (y + 0.1) ** 2 > 0.2 ** 2) & ((x - 0.3) ** 2 + (y + 0.1) ** 2 < 0.3 ** 2)] = True

    def contrast(chain):
        image = window(log, chain, pixel_mm=5.0)[0][0].numpy()
        return image[bone].mean() - image[ring & inside].mean()

    plain, equalised = contrast(display(equalisation=0.0)), contrast(display(equalisation=0.6, equalisation_sigma_mm=40))
    assert plain > 0 and equalised > 1.2 * plain  # 1.33× on this image


def test_no_body_in_view_is_windowed_over_the_whole_image():
    flat = torch.full((1, 8, 8), 0.01)
    flat[0, 2, 2] = 0.05
    scaled, lo, hi = window(flat, display(equalisation=0.0))
    assert float(hi) > float(lo) and float(scaled.max()) == 1.0
