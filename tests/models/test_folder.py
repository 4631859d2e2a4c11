"""One model-folder convention: every trained model saves and loads through it, and a flipped byte is refused."""

import pytest
import torch

from components.models.cyclegan import ResnetGenerator, load_generators, save_generators
from components.models.pose_regressor import build_regressor, load_regressor, save_regressor
from components.registry.export import load_model
from tests.conftest import export_tiny_model


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))


def regressor_folder(folder):
    torch.manual_seed(0)
    net = build_regressor(16, (8, 16))
    save_regressor(net, 16, (8, 16), folder, {"val_pairs": 3})
    return net, lambda: load_regressor(folder), "regressor.safetensors"


def cyclegan_folder(folder):
    torch.manual_seed(0)
    net, other = ResnetGenerator(1, 4, 1), ResnetGenerator(1, 4, 1)
    save_generators(net, other, folder, {"filters": 4, "blocks": 1})
    return net, lambda: load_generators(folder)[0], "g_drr_to_xray.safetensors"


def rotator_folder(folder):
    export_tiny_model(folder)
    model, _ = load_model(folder)
    return model, lambda: load_model(folder)[0], "ema.safetensors"


@pytest.mark.parametrize("make", [regressor_folder, cyclegan_folder, rotator_folder])
def test_a_model_folder_loads_what_was_saved_and_refuses_a_flipped_byte(tmp_path, make):
    folder = tmp_path / "model"
    folder.mkdir()
    saved, load, weights = make(folder)
    loaded = load()
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), loaded.state_dict().values()))
    assert (folder / weights).stat().st_mode & 0o777 == 0o644
    flip_a_byte(folder / weights)
    with pytest.raises(ValueError, match=f"{weights}: does not match the weights_sha256 in config.json"):
        load()
