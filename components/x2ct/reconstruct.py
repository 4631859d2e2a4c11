"""A CT-from-two-radiographs model folder, and reconstructing a volume with it.

Folder (components/models/folder.py's convention): `net.safetensors` (the EMA
weights) and config.json: the network, the grid, the views' geometry, the
sampler and how it was trained. Every method answers (B, 2, n, n, n) lifted
views with (B, 1, n, n, n) volumes in [-1, 1]:
- a diffusion model: its sampler from noise fixed by the seed,
- the regressor: one forward pass,
- the back-projection floor: the mean of the lifted views, scaled to HU by a
  least-squares line fitted on the training cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from components.atomic_write import atomic_path
from components.drr.geometry import Geometry
from components.models.folder import load_weights, read_config, replace_folder
from components.sampling.guided import initial_noise
from components.sampling.samplers import make_sampler
from components.x2ct.grid import VolumeGrid
from components.x2ct.model import PREDICTION, NetConfig, build_net, regress

WEIGHTS = "net"


@dataclass
class X2CTModel:
    net: torch.nn.Module
    config: dict

    @property
    def kind(self) -> str:
        return self.config["net"]["kind"]

    @property
    def grid(self) -> VolumeGrid:
        return VolumeGrid(**self.config["grid"])

    @property
    def geometry(self) -> Geometry:
        return Geometry(**self.config["geometry"])


def save_model(folder: str | Path, net: torch.nn.Module, config: dict) -> dict:
    """Weights and config.json into `folder`, which appears whole (and loads) or not at all."""
    return replace_folder(folder, {WEIGHTS: net}, {"kind": "radrotator-x2ct", **config}, load_model)


def load_model(folder: str | Path, device: str = "cpu") -> X2CTModel:
    config = read_config(folder, "CT-from-radiographs model")
    if config.get("kind") != "radrotator-x2ct":
        raise ValueError(f"{folder}: not a CT-from-radiographs model folder (kind {config.get('kind')!r})")
    net = build_net(NetConfig.from_dict(config["net"]))
    net.load_state_dict(load_weights(folder, WEIGHTS, config))
    return X2CTModel(net.to(device).eval(), config)


@torch.no_grad()
def reconstruct(model: X2CTModel, cond: torch.Tensor, seeds: list[int], steps: int | None = None,
                on_step=None) -> torch.Tensor:
    """(B, 2, n, n, n) lifted views → (B, 1, n, n, n) volumes in [-1, 1]; each volume's noise is fixed by its
    seed, so a volume does not depend on what it was batched with."""
    if model.kind == "regressor":
        return regress(model.net, cond).clamp(-1, 1)
    sampling = model.config["inference"]
    scheduler = make_sampler(sampling["sampler"], model.config["timesteps"], prediction_type=PREDICTION)
    scheduler.set_timesteps(int(steps or sampling["steps"]), device=cond.device)
    if len(seeds) != len(cond):
        raise ValueError(f"{len(seeds)} seeds for {len(cond)} volumes")
    x = torch.cat([initial_noise((1, 1, *cond.shape[2:]), int(s), cond.device) for s in seeds])
    for t in scheduler.timesteps:
        timestep = torch.full((len(x),), int(t), device=x.device, dtype=torch.long)
        x0 = model.net(torch.cat([scheduler.scale_model_input(x, t), cond], 1), timestep)
        x = scheduler.step(x0, t, x).prev_sample
        if on_step:
            on_step()
    return x.clamp(-1, 1)


@dataclass(frozen=True)
class BackProjection:
    """The plain back-projection: slope · mean(lifted views) + intercept, fitted on the training cases."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, cond: torch.Tensor, volume: torch.Tensor) -> BackProjection:
        x = cond.mean(1).flatten().double().numpy()
        slope, intercept = np.polyfit(x, volume.flatten().double().numpy(), 1)
        return cls(float(slope), float(intercept))

    def __call__(self, cond: torch.Tensor) -> torch.Tensor:
        return (self.slope * cond.mean(1, keepdim=True) + self.intercept).clamp(-1, 1)

    def save(self, path: str | Path) -> None:
        with atomic_path(Path(path)) as tmp:
            tmp.write_text(json.dumps({"slope": self.slope, "intercept": self.intercept}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> BackProjection:
        return cls(**json.loads(Path(path).read_text()))
