"""Cycle-GAN training as a Lightning module: least-squares GAN, cycle 10, identity 0.5.

Domain A = DRRs, domain B = radiograph style (unpaired). Adam with β1 = 0.5; the
learning rate is the report's constant 3e-4, or the reference implementation's
2e-4 held then decayed linearly to zero over the second half (`lr_schedule`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightning as L
import torch
import torch.nn.functional as F

from components.models.cyclegan import ImagePool, ResnetGenerator, patch_discriminator


@dataclass(frozen=True)
class CycleGANConfig:
    filters: int
    blocks: int
    disc_filters: int
    lr: float
    lr_schedule: str  # constant | linear_decay
    lambda_cycle: float
    lambda_identity: float
    pool_size: int
    max_steps: int

    def to_dict(self) -> dict:
        return asdict(self)


def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))


class CycleGANModule(L.LightningModule):
    def __init__(self, config: dict) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = CycleGANConfig(**config)
        c = self.config
        self.g_ab, self.g_ba = ResnetGenerator(1, c.filters, c.blocks), ResnetGenerator(1, c.filters, c.blocks)
        self.d_a, self.d_b = patch_discriminator(c.disc_filters), patch_discriminator(c.disc_filters)
        self.pool_a, self.pool_b = ImagePool(c.pool_size, 1), ImagePool(c.pool_size, 2)
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        real_a, real_b = batch["a"], batch["b"]
        c = self.config
        opt_g, opt_d = self.optimizers()

        fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
        adversarial = lsgan(self.d_b(fake_b)[-1], True) + lsgan(self.d_a(fake_a)[-1], True)
        cycle = F.l1_loss(self.g_ba(fake_b), real_a) + F.l1_loss(self.g_ab(fake_a), real_b)
        identity = F.l1_loss(self.g_ab(real_b), real_b) + F.l1_loss(self.g_ba(real_a), real_a)
        loss_g = adversarial + c.lambda_cycle * cycle + c.lambda_cycle * c.lambda_identity * identity
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()

        pooled_b, pooled_a = self.pool_b.query(fake_b), self.pool_a.query(fake_a)
        loss_d = 0.5 * (lsgan(self.d_b(real_b)[-1], True) + lsgan(self.d_b(pooled_b)[-1], False)
                        + lsgan(self.d_a(real_a)[-1], True) + lsgan(self.d_a(pooled_a)[-1], False))
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        for scheduler in self.lr_schedulers() or []:
            scheduler.step()
        self.log_dict({"cyclegan/loss_g": loss_g, "cyclegan/loss_d": loss_d, "cyclegan/cycle": cycle,
                       "cyclegan/identity": identity}, prog_bar=True, batch_size=len(real_a))

    def configure_optimizers(self):
        c = self.config
        opt_g = torch.optim.Adam(list(self.g_ab.parameters()) + list(self.g_ba.parameters()), c.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(list(self.d_a.parameters()) + list(self.d_b.parameters()), c.lr, betas=(0.5, 0.999))
        if c.lr_schedule == "constant":
            return [opt_g, opt_d]
        if c.lr_schedule != "linear_decay":
            raise ValueError(f"cyclegan.lr_schedule must be constant or linear_decay, not {c.lr_schedule!r}")
        half = max(1, c.max_steps // 2)

        def factor(step: int) -> float:  # 1 for the first half, then linearly to 0
            return 1.0 if step < half else max(0.0, 1.0 - (step - half) / half)

        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in (opt_g, opt_d)]
        return [opt_g, opt_d], schedulers
