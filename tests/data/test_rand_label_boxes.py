"""RandLabelBoxes: black rectangles on the source only."""

import numpy as np
import torch

from components.data.transforms import RandLabelBoxes, RandLabelBoxesd, training_transforms


def test_boxes_are_black_and_within_size():
    t = RandLabelBoxes(prob=1.0, max_boxes=2, max_size=0.25).set_random_state(0)
    y = t(torch.ones(1, 40, 40))
    assert 0 < int((y == 0).sum()) <= 2 * 10 * 10
    for _, _, bh, bw in t.boxes:
        assert bh <= 10 and bw <= 10


def test_dictionary_form_touches_only_its_keys():
    t = RandLabelBoxesd(["source"], prob=1.0).set_random_state(0)
    out = t({"source": np.ones((1, 32, 32)), "target": np.ones((1, 32, 32))})
    assert (out["source"] == 0).any() and (out["target"] == 1).all()


def test_training_pipeline_scales_to_minus_one_one_and_offers_monai_shift_by_name():
    import pytest

    d = {"source": torch.rand(1, 32, 32), "target": torch.rand(1, 32, 32)}
    for name in ("match", "monai_shift", "none"):
        t = training_transforms(name)
        t.set_random_state(0)
        out = t(dict(d))
        assert -1.0 <= float(out["source"].min()) and float(out["target"].max()) <= 1.0
    with pytest.raises(ValueError, match="match, monai_shift or none"):
        training_transforms("cyclegan")
