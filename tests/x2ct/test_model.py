"""The x2ct networks learn, their folders load what was saved, and sampling is fixed by each case's seed."""

from __future__ import annotations

import pytest
import torch

from components.training.trainer import make_trainer
from components.x2ct.data import VolumePairs
from components.x2ct.grid import VolumeGrid, condition, project
from components.x2ct.model import NetConfig, X2CTModule
from components.x2ct.reconstruct import BackProjection, load_model, reconstruct, save_model
from tests.params import geometry

GRID = VolumeGrid(16, 20.0)
NET = {"channels": [8, 16], "attention_levels": [False, False], "num_res_blocks": 1, "num_head_channels": 8,
       "norm_num_groups": 8}


def tiny_cases(n: int = 8):
    """Volumes that differ (a block that moves) and their own projections as views: the views tell them apart."""
    g = torch.Generator().manual_seed(0)
    volumes = torch.full((n, 1, 16, 16, 16), -1.0)
    volumes[:, :, 3:13, 4:12, 3:13] = -0.2
    for k in range(n):
        z, y, x = (int(v) for v in torch.randint(3, 10, (3,), generator=g))
        volumes[k, 0, z:z + 4, y:y + 3, x:x + 4] = 0.8
    views = project(volumes, GRID, geometry(pixels=32), 32)
    views = views / views.amax(dim=(2, 3), keepdim=True)
    return volumes, condition(views[:, 0], views[:, 1], GRID, geometry(pixels=32))


def module(kind: str, projection_weight: float = 0.0) -> X2CTModule:
    net = NetConfig(kind, **{k: tuple(v) if isinstance(v, list) else v for k, v in NET.items()}).to_dict()
    return X2CTModule(net, GRID.to_dict(), geometry(pixels=32).to_dict(), lr=2e-3, ema_decay=0.9, timesteps=1000,
                      projection_weight=projection_weight)


def fit(m: X2CTModule, volumes, cond, steps: int) -> None:
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(VolumePairs(volumes, cond), batch_size=4, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    make_trainer(steps, bf16=False, enable_checkpointing=False, progress_bar=False).fit(m, loader)


def test_the_regressor_learns_the_volumes_from_their_views():
    volumes, cond = tiny_cases()
    m = module("regressor")
    before = float(m.losses(volumes, cond)["l1"])
    fit(m, volumes, cond, 40)
    after = float(m.losses(volumes, cond)["l1"])
    assert after < 0.6 * before


def test_the_projection_loss_is_part_of_the_diffusion_loss_when_weighted():
    volumes, cond = tiny_cases(4)
    torch.manual_seed(0)
    with_projection = module("diffusion", projection_weight=10.0).losses(volumes, cond)
    torch.manual_seed(0)
    without = module("diffusion").losses(volumes, cond)
    assert "projection" in with_projection and "projection" not in without
    assert float(with_projection["projection"]) > 0
    assert torch.isclose(with_projection["loss"], with_projection["mse"] + 10.0 * with_projection["projection"])


def test_a_saved_folder_loads_the_same_network_and_refuses_a_flipped_byte(tmp_path):
    volumes, cond = tiny_cases(4)
    m = module("diffusion")
    torch.manual_seed(0)
    with torch.no_grad():  # MONAI zero-initialises the output convolution: an untouched net answers 0 to any noise
        for p in m.ema.module.parameters():
            p.add_(0.05 * torch.randn_like(p))
    config = {"net": m.config.to_dict(), "grid": GRID.to_dict(), "geometry": geometry(pixels=32).to_dict(),
              "timesteps": 1000, "inference": {"sampler": "dpmsolver++", "steps": 3}}
    save_model(tmp_path / "model", m.ema.module, config)
    loaded = load_model(tmp_path / "model")
    assert loaded.kind == "diffusion" and loaded.grid == GRID
    first = reconstruct(loaded, cond, [5, 6, 7, 8])
    assert first.shape == volumes.shape and first.abs().max() <= 1
    # each volume's noise is its seed's: batched or alone, the same volume
    alone = reconstruct(loaded, cond[2:3], [7])
    assert torch.allclose(first[2:3], alone, atol=1e-5)
    assert not torch.allclose(reconstruct(loaded, cond[2:3], [8]), alone)
    weights = tmp_path / "model" / "net.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match"):
        load_model(tmp_path / "model")


def test_the_back_projection_floor_fits_a_line_to_the_truth():
    volumes, cond = tiny_cases()
    floor = BackProjection.fit(cond, volumes)
    residual = (floor(cond) - volumes).abs().mean()
    assert residual < (volumes - volumes.mean()).abs().mean()  # better than the mean volume
