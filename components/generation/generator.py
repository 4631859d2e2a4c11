"""A generator folder, and generating radiographs with it.

Folder (components/models/folder.py's convention): `net.safetensors` (the EMA
weights) and config.json: the network, the sampler it was evaluated with, the
labels it knows and how it was trained. `generate` answers label vectors with
images in [0, 1]: classifier-free guided sampling (components/sampling/guided.py)
from noise fixed by each image's own seed, so an image does not depend on the
batch it was drawn in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from components.generation.labels import LABELS
from components.generation.model import GeneratorConfig, build_generator
from components.models.folder import load_weights, read_config, replace_folder
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.samplers import make_sampler

KIND = "radrotator-generator"
WEIGHTS = "net"
BATCH = 32  # images per sampling call (64 with guidance's doubled batch)


@dataclass
class Generator:
    net: torch.nn.Module
    config: dict

    @property
    def image_size(self) -> int:
        return int(self.config["net"]["image_size"])

    @property
    def inference(self) -> dict:
        return self.config["inference"]

    @property
    def sha256(self) -> str:
        """The weights' sha256 (config.json holds it; loading checked the file against it)."""
        return self.config["weights_sha256"][f"{WEIGHTS}.safetensors"]


def save_generator(folder: str | Path, net: torch.nn.Module, config: dict) -> None:
    """Weights and config.json into `folder`, which appears whole (and loads) or not at all."""
    replace_folder(folder, {WEIGHTS: net}, {"kind": KIND, "labels": list(LABELS), **config}, load_generator)


def load_generator(folder: str | Path) -> Generator:
    config = read_config(folder, "generator")
    if config.get("kind") != KIND:
        raise ValueError(f"{folder}: not a {KIND} folder (kind {config.get('kind')!r})")
    if config.get("labels") != list(LABELS):
        raise ValueError(f"{folder}: made for labels {config.get('labels')}, this code knows {list(LABELS)}")
    net = build_generator(GeneratorConfig.from_dict(config["net"]))
    net.load_state_dict(load_weights(folder, WEIGHTS, config))
    return Generator(net.eval(), config)


@torch.no_grad()
def generate(generator: Generator, labels: np.ndarray, seeds: list[int], steps: int | None = None,
             guidance: float | None = None, sampler: str | None = None, on_step=None) -> np.ndarray:
    """(N, len(LABELS)) label vectors (NaN: unknown) → (N, s, s) images in [0, 1]; image k from seeds[k]."""
    if len(labels) != len(seeds):
        raise ValueError(f"{len(labels)} label vectors for {len(seeds)} seeds")
    inference, size = generator.inference, generator.image_size
    template = make_sampler(sampler or inference["sampler"], generator.config["timesteps"])
    out = []
    for first in range(0, len(labels), BATCH):
        chunk = torch.from_numpy(np.asarray(labels[first:first + BATCH], np.float32))
        noise = torch.cat([initial_noise((1, 1, size, size), s) for s in seeds[first:first + BATCH]])
        x = guided_sample(generator.net, template, noise.new_zeros(len(chunk), 0, size, size), chunk, noise,
                          steps=int(steps or inference["steps"]),
                          guidance=float(inference["guidance"] if guidance is None else guidance), on_step=on_step)
        out.append(((x[:, 0].clamp(-1, 1) + 1) / 2).numpy())
    return np.concatenate(out)
