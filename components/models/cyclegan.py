"""Cycle-GAN networks (Zhu et al. 2017): ResNet generator, 70×70 PatchGAN, image pool.

MONAI's PatchDiscriminator with 64 channels, 3 layers, kernel 4 and instance norm
is the 70×70 PatchGAN (C64-C128-C256-C512, last stride 1). MONAI has no ResNet
generator, so it is written here as in the reference implementation: 7×7 conv,
two stride-2 downsamplings, residual blocks with reflection padding, two
transposed-conv upsamplings, 7×7 conv, tanh.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from monai.networks.nets import PatchDiscriminator
from torch import nn

from components.models.folder import load_weights, read_config, save_folder


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, channels: int = 1, filters: int = 64, blocks: int = 9) -> None:
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, filters, 7), nn.InstanceNorm2d(filters), nn.ReLU(True)]
        width = filters
        for _ in range(2):
            layers += [nn.Conv2d(width, width * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(width * 2), nn.ReLU(True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(blocks)]
        for _ in range(2):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def patch_discriminator(filters: int = 64) -> PatchDiscriminator:
    """The 70×70 PatchGAN; call it and take the last element: (B, 1, h, w) patch scores."""
    return PatchDiscriminator(spatial_dims=2, channels=filters, in_channels=1, out_channels=1, num_layers_d=3,
                              kernel_size=4, norm="INSTANCE", bias=True)


class ImagePool:
    """A history of generated images (size 50): half the time the discriminator sees an older one."""

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        self.size, self.images, self.rng = size, [], random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.random() > 0.5:
                k = self.rng.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image
            else:
                out.append(image)
        return torch.stack(out)


GENERATOR_FILES = ("g_drr_to_xray", "g_xray_to_drr")


def save_generators(drr_to_xray: nn.Module, xray_to_drr: nn.Module, folder: str | Path, config: dict) -> dict:
    """Both generators and config.json (`filters`, `blocks` build them) into `folder`."""
    return save_folder(folder, dict(zip(GENERATOR_FILES, (drr_to_xray, xray_to_drr))), config)


def load_generators(folder: str | Path) -> tuple[nn.Module, nn.Module]:
    """(DRR → radiograph style, radiograph style → DRR) from a Cycle-GAN folder."""
    config = read_config(folder, "Cycle-GAN")
    nets = []
    for name in GENERATOR_FILES:
        net = ResnetGenerator(1, config["filters"], config["blocks"])
        net.load_state_dict(load_weights(folder, name, config))
        nets.append(net.eval())
    return nets[0], nets[1]


def translate(generator: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """A Cycle-GAN generator over images in [0, 1]."""
    with torch.no_grad():
        out = generator(torch.from_numpy(np.asarray(images, np.float32) * 2 - 1)[:, None])
    return ((out[:, 0].clamp(-1, 1) + 1) / 2).numpy()
