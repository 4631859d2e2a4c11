"""The label-conditioned radiograph generator: MONAI's DiffusionModelUNet with a label embedding.

A DDPM on the rotation model's schedule (cosine, zero terminal SNR, T = 1000,
v-prediction, so diffusers' solvers sample it) that starts from noise alone: one
input channel, one output channel. The label vector (components/generation/labels.py)
is embedded label by label — a categorical label by a lookup table, a continuous
one by a small MLP — and the embeddings are summed into MONAI's class-embedding
slot, which adds them to the timestep embedding (as the rotation model adds its
angles). A NaN label takes that label's learned null embedding: unknown in the
data, left out by the user, or dropped for classifier-free guidance (each label
with `label_drop_prob`, all of them with `guidance_drop_prob`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightning as L
import torch
import torch.nn.functional as F
from monai.networks.nets import DiffusionModelUNet
from torch import nn
from torch.optim.swa_utils import AveragedModel

from components.generation.labels import CATEGORIES, LABELS
from components.models.diffusion import training_scheduler
from components.training.module import ema_with_warmup


@dataclass(frozen=True)
class GeneratorConfig:
    image_size: int
    channels: tuple[int, ...]
    attention_levels: tuple[bool, ...]
    num_res_blocks: int
    num_head_channels: int
    norm_num_groups: int

    @classmethod
    def from_dict(cls, d: dict) -> GeneratorConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class LabelEmbedding(nn.Module):
    """(B, len(LABELS)) label vectors → (B, D): the sum of one embedding per label, NaN → its null embedding."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        # categorical: one row per category plus the null row (index = number of categories)
        self.tables = nn.ModuleList(nn.Embedding(len(CATEGORIES[k]) + 1, embed_dim) for k in CATEGORIES)
        continuous = len(LABELS) - len(CATEGORIES)
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(1, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))
                                  for _ in range(continuous))
        self.nulls = nn.Parameter(torch.zeros(continuous, embed_dim))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(labels)
        out = 0
        for i, table in enumerate(self.tables):
            index = torch.where(missing[:, i], table.num_embeddings - 1, torch.nan_to_num(labels[:, i]).long())
            out = out + table(index)
        for j, mlp in enumerate(self.mlps):
            i = len(self.tables) + j
            embedded = mlp(torch.nan_to_num(labels[:, i:i + 1]))
            out = out + torch.where(missing[:, i:i + 1], self.nulls[j].to(embedded.dtype), embedded)
        return out


def build_generator(config: GeneratorConfig) -> DiffusionModelUNet:
    net = DiffusionModelUNet(spatial_dims=2, in_channels=1, out_channels=1, channels=config.channels,
                             attention_levels=config.attention_levels, num_res_blocks=config.num_res_blocks,
                             num_head_channels=config.num_head_channels, norm_num_groups=config.norm_num_groups,
                             num_class_embeds=1)
    net.class_embedding = LabelEmbedding(net.time_embed[-1].out_features)
    return net


def drop_labels(labels: torch.Tensor, label_p: float, all_p: float, generator: torch.Generator | None = None):
    """Classifier-free guidance's dropout: each label to NaN with `label_p`, every label of a row with `all_p`."""
    shape = labels.shape
    each = torch.rand(shape, generator=generator) < label_p
    rows = torch.rand(shape[0], 1, generator=generator) < all_p
    return torch.where((each | rows).to(labels.device), torch.full_like(labels, float("nan")), labels)


class GeneratorModule(L.LightningModule):
    def __init__(self, net: dict, lr: float, ema_decay: float, timesteps: int, label_drop_prob: float,
                 guidance_drop_prob: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = build_generator(GeneratorConfig.from_dict(net))
        self.ema = AveragedModel(self.net, multi_avg_fn=ema_with_warmup(ema_decay), use_buffers=True)
        self.ema.requires_grad_(False)
        self.scheduler = training_scheduler(timesteps)
        self.lr, self.timesteps = lr, timesteps
        self.label_p, self.all_p = label_drop_prob, guidance_drop_prob

    def loss(self, image: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """MSE on v at a random timestep, the labels dropped for guidance."""
        labels = drop_labels(labels, self.label_p, self.all_p)
        noise = torch.randn_like(image)
        t = torch.randint(0, self.timesteps, (len(image),), device=image.device)
        v = self.net(self.scheduler.add_noise(image, noise, t), t, class_labels=labels)
        return F.mse_loss(v, self.scheduler.get_velocity(image, noise, t))

    def training_step(self, batch, batch_idx):
        loss = self.loss(batch["image"], batch["labels"])
        self.log("train/mse", loss, prog_bar=True, batch_size=len(batch["image"]))
        return loss

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        self.ema.update_parameters(self.net)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.net.parameters(), lr=self.lr)
