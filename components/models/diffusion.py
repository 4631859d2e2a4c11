"""Diffusion for RadRotator: a zero-terminal-SNR cosine schedule, v-prediction, and the
improved-DDPM hybrid loss with a learned-range variance.

The schedule: the cosine schedule's sqrt(ᾱ) shifted so that ᾱ_T = 0 and rescaled to
keep ᾱ_0 (Lin et al. 2024, "Common diffusion noise schedules and sample steps are
flawed"). With ᾱ_T = 0 only v-prediction stays defined at t = T. The samplers are
diffusers' (components/sampling/samplers.py) on diffusers' own version of it
(`squaredcos_cap_v2` + `rescale_betas_zero_snr`), which equals the one below to
7e-7 in ᾱ (tests/models/test_diffusion.py). Training keeps the values below, on
MONAI's cosine schedule, bit for bit: they are what the committed models were
trained on, and a change in the last float bit would change every trained weight
and with it every figure measured on them.

Learned-range variance follows Nichol & Dhariwal (2021): the second output
channel v_var ∈ [-1, 1] interpolates *log* variance between the posterior
variance β̃_t and β_t. (MONAI's DDPMScheduler interpolates the variances
linearly; the loss here is the paper's.) The hybrid loss is MSE on v plus
λ·L_vlb, where L_vlb is the KL between the true posterior and the model's
Gaussian with the model's mean detached, so L_vlb trains only the variance.
"""

from __future__ import annotations

import math

import torch
from monai.networks.schedulers import DDPMScheduler, NoiseSchedules
from monai.networks.schedulers.scheduler import _cosine_beta

SCHEDULE = "cosine_zero_snr"


@NoiseSchedules.add_def(SCHEDULE, "Cosine schedule rescaled to zero terminal SNR")
def cosine_zero_snr(num_train_timesteps: int, s: float = 8e-3):
    _, _, alphas_cumprod = _cosine_beta(num_train_timesteps, s)
    root = alphas_cumprod.double().sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    alphas_cumprod = root**2
    alphas = torch.cat([alphas_cumprod[:1], alphas_cumprod[1:] / alphas_cumprod[:-1]])
    betas = 1.0 - alphas
    return betas.float(), alphas.float(), alphas_cumprod.float()


def noise_schedule(timesteps: int = 1000) -> dict:
    """diffusers' keyword arguments for the same schedule, shared by every sampler."""
    return {"num_train_timesteps": timesteps, "beta_schedule": "squaredcos_cap_v2", "rescale_betas_zero_snr": True,
            "prediction_type": "v_prediction"}


def training_scheduler(timesteps: int = 1000) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=timesteps, schedule=SCHEDULE, prediction_type="v_prediction",
                         variance_type="learned_range", clip_sample=False)


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(like.device, like.dtype)[t].view(-1, *([1] * (like.ndim - 1)))


class HybridLoss:
    """MSE(v) + λ·L_vlb for a v-predicting model with a learned-range variance channel."""

    def __init__(self, scheduler: DDPMScheduler, vlb_weight: float = 1e-3) -> None:
        self.scheduler, self.vlb_weight = scheduler, vlb_weight
        ac = scheduler.alphas_cumprod.double()
        ac_prev = torch.cat([torch.ones(1, dtype=ac.dtype), ac[:-1]])
        betas = scheduler.betas.double()
        posterior_var = betas * (1 - ac_prev) / (1 - ac)
        self.posterior_log_var = torch.log(torch.cat([posterior_var[1:2], posterior_var[1:]])).float()
        self.log_betas = torch.log(betas.clamp_min(1e-20)).float()
        self.coef_x0 = (betas * ac_prev.sqrt() / (1 - ac)).float()
        self.coef_xt = ((1 - ac_prev) * (1 - betas).sqrt() / (1 - ac)).float()
        self.sqrt_ac, self.sqrt_1m_ac = ac.sqrt().float(), (1 - ac).sqrt().float()

    def x0_from_v(self, x_t, v, t):
        return _at(self.sqrt_ac, t, x_t) * x_t - _at(self.sqrt_1m_ac, t, x_t) * v

    def posterior_mean(self, x0, x_t, t):
        return _at(self.coef_x0, t, x_t) * x0 + _at(self.coef_xt, t, x_t) * x_t

    def model_log_var(self, var_channel, t):
        frac = (var_channel + 1) / 2
        return frac * _at(self.log_betas, t, var_channel) + (1 - frac) * _at(self.posterior_log_var, t, var_channel)

    def __call__(self, output: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, noise: torch.Tensor,
                 t: torch.Tensor) -> dict[str, torch.Tensor]:
        v_pred, var_channel = output[:, :1], output[:, 1:2]
        v_target = self.scheduler.get_velocity(x0, noise, t)
        mse = torch.mean((v_pred - v_target) ** 2)
        true_mean = self.posterior_mean(x0, x_t, t)
        true_log_var = _at(self.posterior_log_var, t, x_t)
        model_mean = self.posterior_mean(self.x0_from_v(x_t, v_pred.detach(), t), x_t, t)
        model_log_var = self.model_log_var(var_channel, t)
        kl = 0.5 * (-1.0 + model_log_var - true_log_var + torch.exp(true_log_var - model_log_var)
                    + (true_mean - model_mean) ** 2 * torch.exp(-model_log_var))
        # At t = 0 the term is the decoder's negative log-likelihood of x0 (Gaussian, continuous).
        nll = 0.5 * (math.log(2 * math.pi) + model_log_var + (x0 - model_mean) ** 2 * torch.exp(-model_log_var))
        vlb = torch.where(_at(torch.arange(len(self.log_betas)), t, x_t) == 0, nll, kl)
        vlb = vlb.mean(dim=tuple(range(1, vlb.ndim))) / math.log(2.0)  # bits per dimension
        vlb = vlb.mean()
        return {"loss": mse + self.vlb_weight * vlb, "mse": mse, "vlb": vlb}
