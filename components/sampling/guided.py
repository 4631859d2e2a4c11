"""Classifier-free guided sampling over the scheduler contract (set_timesteps / step).

The conditional and unconditional predictions are one doubled batch (NaN angles
select the null embedding). Only the v channel drives the sampler (DDIM with η = 0,
DPM-Solver++, UniPC: all deterministic); the variance channel matters to ancestral
DDPM sampling only. With guidance 1 the unconditional half is skipped: the output
is the conditional one exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from tqdm.auto import tqdm


def initial_noise(shape: tuple[int, ...], seed: int, device="cpu") -> torch.Tensor:
    """Noise fixed by the seed (drawn on the CPU so every device gets the same values)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(device)


@torch.no_grad()
def guided_sample(model: torch.nn.Module, scheduler, source: torch.Tensor, angles: torch.Tensor,
                  noise: torch.Tensor, steps: int = 200, guidance: float = 4.0, progress: bool = False,
                  on_step: Callable[[], None] | None = None) -> torch.Tensor:
    """Generate targets for (B, C, H, W) sources in [-1, 1] and (B, K) conditions: the rotation model's
    source view (C = 1) and angles (V / 15, K = 3); the radiograph generator's no source (C = 0) and
    label vectors (components/generation/labels.py). NaN conditions select the null embedding.

    `scheduler` is a template: a fresh copy runs, as multistep solvers keep state between steps.
    `on_step` is called after every denoising step (a progress bar's advance)."""
    scheduler = type(scheduler).from_config(scheduler.config)
    scheduler.set_timesteps(steps, device=source.device)
    x = noise.to(source.device, source.dtype)
    unconditional = torch.full_like(angles, float("nan"))
    for t in tqdm(scheduler.timesteps, disable=not progress, desc="denoising", leave=False):
        timestep = torch.full((len(x),), int(t), device=x.device, dtype=torch.long)
        model_input = scheduler.scale_model_input(x, t)
        if guidance == 1.0:
            v = model(torch.cat([model_input, source], 1), timestep, class_labels=angles)[:, :1]
        else:
            both = model(torch.cat([model_input, source], 1).repeat(2, 1, 1, 1), timestep.repeat(2),
                         class_labels=torch.cat([angles, unconditional]))[:, :1]
            v_cond, v_uncond = both.chunk(2)
            v = v_uncond + guidance * (v_cond - v_uncond)
        x = scheduler.step(v, t, x).prev_sample
        if on_step:
            on_step()
    return x
