"""RandHistogramMatch (the report's RandHistogramShift), array and dictionary forms."""

import numpy as np
import pytest
import torch

from components.data.transforms import NOISE_FAMILIES, RandHistogramMatch, RandHistogramMatchd


def image(seed=0, shape=(1, 32, 32)):
    return torch.from_numpy(np.random.default_rng(seed).gamma(2.0, size=shape).astype(np.float32))


@pytest.mark.parametrize("seed", range(5))
def test_keeps_each_images_pixel_order(seed):
    t = RandHistogramMatch().set_random_state(seed)
    x = image(seed)
    y = t(x)
    order = torch.argsort(x.flatten())
    assert torch.all(torch.diff(y.flatten()[order]) >= -1e-6)  # monotone non-decreasing
    assert 0.0 <= float(y.min()) and float(y.max()) <= 1.0


def test_output_takes_the_reference_histogram():
    t = RandHistogramMatch(reference_size=32).set_random_state(3)
    y = t(image(1)).numpy().ravel()
    ref = np.sort(t.reference)
    assert np.abs(np.sort(y) - ref).max() < 0.01  # same size: the reference's quantiles


def test_pair_shares_one_reference_and_draws_anew_each_call():
    t = RandHistogramMatchd(["source", "target"], reference_size=32).set_random_state(0)
    out = t({"source": image(1), "target": image(2)})
    ref = np.sort(t.array.reference)
    assert np.abs(np.sort(out["source"].numpy().ravel()) - ref).max() < 0.01
    assert np.abs(np.sort(out["target"].numpy().ravel()) - ref).max() < 0.01
    first = t.array.reference.copy()
    t({"source": image(1), "target": image(2)})
    assert not np.allclose(first, t.array.reference)


def test_references_vary_widely():
    t = RandHistogramMatch().set_random_state(0)
    means, spreads = [], []
    for _ in range(60):
        t.randomize()
        means.append(t.reference.mean())
        spreads.append(t.reference.std())
    assert np.ptp(means) > 0.4 and np.ptp(spreads) > 0.15
    assert len(NOISE_FAMILIES) >= 5


def test_numpy_in_numpy_out_and_deterministic():
    a = RandHistogramMatch().set_random_state(7)(image(0).numpy())
    b = RandHistogramMatch().set_random_state(7)(image(0).numpy())
    assert isinstance(a, np.ndarray) and np.array_equal(a, b)
