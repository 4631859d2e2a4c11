"""Damaged files are named and refused on read, never used: weights, pool volumes, shards."""

import numpy as np
import pytest
import SimpleITK as sitk

from components.drr.render import load_volume
from components.registry.export import WEIGHTS, load_model
from tests.conftest import export_tiny_model, tiny_ct
from tests.params import drr_config


@pytest.fixture
def model(tmp_path):
    return export_tiny_model(tmp_path / "model")


def test_weights_with_a_flipped_byte_are_refused(model):
    weights = model / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01  # inside a tensor: safetensors would load it and sample a different image
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"ema.safetensors: does not match the weights_sha256"):
        load_model(model)


def test_truncated_weights_name_the_file(model):
    weights = model / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"ema.safetensors"):
        load_model(model)


def test_model_folder_is_readable_by_a_serving_account(model):
    for part in model.iterdir():
        assert part.stat().st_mode & 0o044 == 0o044, part


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_pool_volume_is_refused_not_zero_filled(tmp_path, damage):
    image = sitk.GetImageFromArray(tiny_ct((40, 32, 32)).astype(np.int16))
    image.SetSpacing((4.0, 4.0, 4.0))
    path = tmp_path / "CT1.nii.gz"
    sitk.WriteImage(image, str(path), useCompression=True)
    config = drr_config(volume_spacing_mm=4.0)
    load_volume(path, config)  # intact: loads
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: int(len(data) * 0.6)]  # ITK reads this with the missing slices zero-filled
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"CT1.nii.gz: damaged pool volume"):
        load_volume(path, config)
