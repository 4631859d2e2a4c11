"""The CT-from-two-radiographs networks and their Lightning module.

One MONAI `DiffusionModelUNet` with `spatial_dims=3` for both kinds, so the
floor differs from the model only in what it learns:
- `diffusion`: input noisy volume ⊕ the two lifted views (3 channels), output the
  clean volume x̂0, as Diff2CT's conditional denoising autoencoder predicts "a
  denoised version of the CT" (on the rotation model's zero-terminal-SNR cosine
  schedule, so the same diffusers samplers run it, with `prediction_type="sample"`).
  Loss: MSE on x̂0 plus, when `projection_weight` > 0, Diff2CT's projection loss:
  AP and lateral mean density along each ray of x̂0 against the truth's.
- `regressor`: the lifted views only (2 channels) at a fixed timestep 0, L1 to
  the truth: the deterministic 3D U-Net floor (X2CT-GAN's generator without the
  adversary).
The EMA of the weights is what is exported and evaluated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightning as L
import torch
import torch.nn.functional as F
from monai.networks.nets import DiffusionModelUNet
from torch.optim.swa_utils import AveragedModel

from components.config import X2ct
from components.drr.geometry import Geometry
from components.models.diffusion import training_scheduler
from components.training.module import ema_with_warmup
from components.x2ct.grid import VolumeGrid, project

KINDS = ("diffusion", "regressor")
PREDICTION = "sample"  # the network predicts the clean volume (diffusers' name)


@dataclass(frozen=True)
class NetConfig:
    kind: str
    channels: tuple[int, ...]
    attention_levels: tuple[bool, ...]
    num_res_blocks: int
    num_head_channels: int | tuple[int, ...]
    norm_num_groups: int

    @classmethod
    def from_params(cls, kind: str, cfg: X2ct) -> NetConfig:
        u = cfg.unet
        return cls(kind, tuple(u.channels), tuple(u.attention_levels), u.num_res_blocks,
                   u.num_head_channels if isinstance(u.num_head_channels, int) else tuple(u.num_head_channels),
                   u.norm_num_groups)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def build_net(config: NetConfig) -> DiffusionModelUNet:
    if config.kind not in KINDS:
        raise ValueError(f"network kind {config.kind!r} is not one of {KINDS}")
    return DiffusionModelUNet(spatial_dims=3, in_channels=3 if config.kind == "diffusion" else 2, out_channels=1,
                              channels=config.channels, attention_levels=config.attention_levels,
                              num_res_blocks=config.num_res_blocks, num_head_channels=config.num_head_channels,
                              norm_num_groups=config.norm_num_groups)


def regress(net: torch.nn.Module, cond: torch.Tensor) -> torch.Tensor:
    return net(cond, torch.zeros(len(cond), dtype=torch.long, device=cond.device))


class X2CTModule(L.LightningModule):
    def __init__(self, net: dict, grid: dict, geometry: dict, lr: float, ema_decay: float, timesteps: int,
                 projection_weight: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = NetConfig.from_dict(net)
        self.net = build_net(self.config)
        self.ema = AveragedModel(self.net, multi_avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
        self.ema.requires_grad_(False)
        self.grid, self.geometry = VolumeGrid(**grid), Geometry(**geometry)
        self.scheduler = training_scheduler(timesteps)
        self.lr, self.timesteps, self.projection_weight = lr, timesteps, projection_weight

    def losses(self, volume: torch.Tensor, cond: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.config.kind == "regressor":
            loss = F.l1_loss(regress(self.net, cond), volume)
            return {"loss": loss, "l1": loss}
        noise = torch.randn_like(volume)
        t = torch.randint(0, self.timesteps, (len(volume),), device=volume.device)
        x_t = self.scheduler.add_noise(volume, noise, t)
        x0 = self.net(torch.cat([x_t, cond], 1), t)
        mse = F.mse_loss(x0, volume)
        out = {"loss": mse, "mse": mse}
        if self.projection_weight > 0:
            pixels = self.grid.voxels
            out["projection"] = F.mse_loss(project(x0, self.grid, self.geometry, pixels),
                                           project(volume, self.grid, self.geometry, pixels))
            out["loss"] = mse + self.projection_weight * out["projection"]
        return out

    def training_step(self, batch, batch_idx):
        losses = self.losses(batch["volume"], batch["cond"])
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=len(batch["volume"]))
        return losses["loss"]

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        self.ema.update_parameters(self.net)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.net.parameters(), lr=self.lr)
