"""RandZeroRows: zero rows at top and bottom, the same rows for a pair."""

import numpy as np
import pytest
import torch

from components.data.transforms import RandZeroRows, RandZeroRowsd


@pytest.mark.parametrize("seed", range(4))
def test_zeroes_only_top_and_bottom_rows(seed):
    t = RandZeroRows(prob=1.0, max_fraction=0.25).set_random_state(seed)
    x = torch.ones(1, 40, 30)
    y = t(x)
    zero_rows = (y[0] == 0).all(dim=1)
    assert zero_rows[: t.top].all() and zero_rows[40 - t.bottom:].all()
    assert not zero_rows[t.top: 40 - t.bottom].any()
    assert t.top <= 10 and t.bottom <= 10


def test_prob_zero_is_identity():
    x = torch.rand(1, 16, 16)
    assert torch.equal(RandZeroRows(prob=0.0)(x), x)


def test_pair_gets_the_same_rows():
    t = RandZeroRowsd(["source", "target"], prob=1.0, max_fraction=0.3).set_random_state(1)
    out = t({"source": np.ones((1, 20, 20)), "target": np.ones((1, 20, 20)) * 2})
    assert np.array_equal(out["source"] == 0, out["target"] == 0)
    assert (out["source"] == 0).any()
