"""The RadRotator network: MONAI's DiffusionModelUNet with a continuous angle condition.

Input: noisy target ⊕ source DRR (2 channels). Output: v and the learned-range
variance interpolation (2 channels). The three angles (V / 15) are embedded by a
small MLP and added to the timestep embedding, as Mediffusion does; MONAI's
class-embedding slot is where it fits. A learned null embedding stands in for
the condition where a row of angles is NaN — the guidance-dropped case — so one
forward pass can carry conditional and unconditional rows together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from monai.networks.nets import DiffusionModelUNet
from torch import nn

from components.config import Params, Train


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (32, 64, 64)
    attention_levels: tuple[bool, ...] = (False, False, True)
    num_res_blocks: int = 1
    num_head_channels: int | tuple[int, ...] = 32  # per level allowed; paper: 4 heads = channels / 4
    norm_num_groups: int = 32
    condition_dims: int = 3

    @classmethod
    def from_params(cls, p: dict) -> UNetConfig:
        return cls(image_size=int(p["image_size"]), channels=tuple(p["channels"]),
                   attention_levels=tuple(bool(a) for a in p["attention_levels"]),
                   num_res_blocks=int(p["num_res_blocks"]),
                   num_head_channels=(tuple(p["num_head_channels"]) if isinstance(p["num_head_channels"], list)
                                      else int(p["num_head_channels"])),
                   norm_num_groups=int(p.get("norm_num_groups", 32)))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class AngleEmbedding(nn.Module):
    """(B, 3) angles → (B, D) embedding; NaN rows get the learned null embedding."""

    def __init__(self, dims: int, embed_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dims, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
        self.null = nn.Parameter(torch.zeros(embed_dim))

    def forward(self, angles: torch.Tensor) -> torch.Tensor:
        dropped = torch.isnan(angles).any(dim=-1, keepdim=True)
        embedded = self.mlp(torch.nan_to_num(angles, nan=0.0))
        return torch.where(dropped, self.null.to(embedded.dtype).expand_as(embedded), embedded)


def build_unet(config: UNetConfig) -> DiffusionModelUNet:
    model = DiffusionModelUNet(
        spatial_dims=2, in_channels=2, out_channels=2, channels=config.channels,
        attention_levels=config.attention_levels, num_res_blocks=config.num_res_blocks,
        num_head_channels=config.num_head_channels, norm_num_groups=config.norm_num_groups, num_class_embeds=1)
    # The class slot: MONAI adds class_embedding(class_labels) to the time embedding.
    time_embed_dim = model.time_embed[-1].out_features
    model.class_embedding = AngleEmbedding(config.condition_dims, time_embed_dim)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def unet_params(params: Params, train: Train) -> dict:
    """The U-Net of `train`, its image size the DRRs' (one fact, one home: drrs.geometry.pixels)."""
    return {**train.unet.to_dict(), "image_size": params.drrs.geometry.pixels}
