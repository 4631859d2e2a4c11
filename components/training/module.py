"""Lightning module and data module for RadRotator training (Mediffusion-style).

The module holds the U-Net, its EMA copy (decay 0.9999 in the paper profile;
used for validation and export), the hybrid loss and Lion. Guidance dropout
replaces the angles of a sample by NaN (→ the null embedding) with p = 0.1.
Checkpoints carry the RNG states too, so a resumed run continues exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

import lightning as L
import numpy as np
import torch
from lion_pytorch import Lion
from torch.optim.swa_utils import AveragedModel

from components.models.diffusion import HybridLoss, training_scheduler
from components.models.unet import UNetConfig, build_unet


@dataclass(frozen=True)
class TrainConfig:
    lr: float
    weight_decay: float
    ema_decay: float
    guidance_drop_prob: float
    vlb_weight: float
    timesteps: int
    lr_schedule: str  # constant (report) | cosine: warm-up, then cosine decay to 0 at the last step
    warmup_steps: int

    def to_dict(self) -> dict:
        return asdict(self)


def ema_with_warmup(decay: float):
    """EMA whose decay ramps up as min(decay, (1 + n) / (10 + n)) over the n updates so far.

    A fixed 0.9999 would keep 0.9999^n of the random initialisation: 97 % after
    300 steps. The warm-up (as in diffusers' EMAModel) makes the average useful early.
    """

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged) -> None:
        n = int(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return update


class RadRotatorModule(L.LightningModule):
    def __init__(self, unet: dict, train: dict, max_steps: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.unet_config, self.train_config = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                            for k, v in unet.items()}), TrainConfig(**train)
        self.model = build_unet(self.unet_config)
        self.ema = AveragedModel(self.model, multi_avg_fn=ema_with_warmup(self.train_config.ema_decay),
                                 use_buffers=True)
        self.ema.requires_grad_(False)
        self.scheduler = training_scheduler(self.train_config.timesteps)
        self.loss = HybridLoss(self.scheduler, self.train_config.vlb_weight)
        self.max_steps = max_steps
        if self.train_config.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"train.optim.lr_schedule must be constant or cosine, not {self.train_config.lr_schedule!r}")
        if self.train_config.lr_schedule == "cosine" and not max_steps:
            raise ValueError("train.optim.lr_schedule: cosine needs the run's max_steps")

    def forward(self, x_t, source, t, angles, ema: bool = False):
        net = self.ema.module if ema else self.model
        return net(torch.cat([x_t, source], 1), t, class_labels=angles)

    def _step(self, batch, ema: bool, generator: torch.Generator | None = None):
        target, source, angles = batch["target"], batch["source"], batch["angles"]
        if not ema and self.train_config.guidance_drop_prob > 0:
            drop = torch.rand(len(angles), device=angles.device) < self.train_config.guidance_drop_prob
            angles = torch.where(drop[:, None], torch.full_like(angles, float("nan")), angles)
        noise = torch.randn(target.shape, generator=generator, device=target.device, dtype=target.dtype)
        t = torch.randint(0, self.train_config.timesteps, (len(target),), generator=generator, device=target.device)
        x_t = self.scheduler.add_noise(target, noise, t)
        return self.loss(self(x_t, source, t, angles, ema=ema), target, x_t, noise, t)

    def training_step(self, batch, batch_idx):
        losses = self._step(batch, ema=False)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=len(batch["target"]))
        return losses["loss"]

    def optimizer_step(self, *args, **kwargs) -> None:
        # The EMA follows each optimiser step here, not in on_train_batch_end: Lightning saves a
        # step's checkpoint from a callback's on_train_batch_end, which runs before the module's,
        # so a checkpoint would hold an EMA one update behind its weights.
        super().optimizer_step(*args, **kwargs)
        self.ema.update_parameters(self.model)

    def validation_step(self, batch, batch_idx):
        # The same noise and timesteps at every validation: losses compare across steps and runs.
        generator = torch.Generator(self.device).manual_seed(batch_idx)
        losses = self._step(batch, ema=True, generator=generator)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, prog_bar=True, batch_size=len(batch["target"]),
                      sync_dist=True)  # averaged over DDP processes
        return losses["loss"]

    def configure_optimizers(self):
        optimizer = Lion(self.model.parameters(), lr=self.train_config.lr, weight_decay=self.train_config.weight_decay)
        if self.train_config.lr_schedule == "constant":
            return optimizer
        warmup, total = self.train_config.warmup_steps, int(self.max_steps)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Tensors and plain ints only: checkpoints load with torch.load(weights_only=True).
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        checkpoint["rng"] = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
                             "numpy_rest": [int(pos), int(has_gauss), float(gauss)],
                             "python": random.getstate()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Applied at the first batch after resuming: Lightning draws from the global RNG
        # while it rebuilds the loops, which would otherwise shift the stream.
        self._pending_rng = checkpoint.get("rng")

    def on_train_batch_start(self, batch, batch_idx) -> None:
        rng, self._pending_rng = getattr(self, "_pending_rng", None), None
        if rng:
            torch.set_rng_state(rng["torch"])
            pos, has_gauss, gauss = rng["numpy_rest"]
            np.random.set_state(("MT19937", rng["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, gauss))
            random.setstate(rng["python"])
