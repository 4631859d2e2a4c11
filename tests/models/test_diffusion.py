"""Schedule, v-prediction and the hybrid loss against closed forms."""


import pytest
import torch
from diffusers import DDPMScheduler
from monai.networks.schedulers import NoiseSchedules

from components.models.diffusion import SCHEDULE, HybridLoss, cosine_zero_snr, noise_schedule, training_scheduler
from components.models.unet import UNetConfig, build_unet, count_parameters
from components.sampling.guided import guided_sample, initial_noise
from components.sampling.samplers import SAMPLERS, make_sampler


def test_zero_terminal_snr_schedule_is_registered_rescaled_and_equals_diffusers():
    assert SCHEDULE in NoiseSchedules.names
    betas, alphas, ac = cosine_zero_snr(1000)
    assert ac[-1] == 0 and betas[-1] == pytest.approx(1.0)
    assert torch.all(torch.diff(ac) <= 0) and 0.999 < float(ac[0]) <= 1
    assert torch.allclose(torch.cumprod(alphas.double(), 0).float(), ac, atol=1e-5)
    # The samplers run on diffusers' version of the schedule: the same to float precision.
    theirs = DDPMScheduler(**noise_schedule(1000)).alphas_cumprod
    assert torch.allclose(theirs, ac, atol=1e-6) and theirs[-1] == 0


def test_v_target_and_x0_recovery_closed_forms():
    s = training_scheduler()
    x0, noise = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 250, 700, 999])
    x_t = s.add_noise(x0, noise, t)
    a = s.alphas_cumprod[t].view(-1, 1, 1, 1)
    v = s.get_velocity(x0, noise, t)
    assert torch.allclose(v, a.sqrt() * noise - (1 - a).sqrt() * x0, atol=1e-6)
    loss = HybridLoss(s)
    assert torch.allclose(loss.x0_from_v(x_t, v, t), x0, atol=1e-5)
    assert torch.allclose(x_t[3], noise[3])  # t = T: pure noise


def test_hybrid_loss_is_mse_at_the_truth_plus_a_positive_vlb():
    s = training_scheduler()
    loss = HybridLoss(s, vlb_weight=1.0)
    x0, noise = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    t = torch.tensor([1, 400, 998])
    x_t = s.add_noise(x0, noise, t)
    perfect = torch.cat([s.get_velocity(x0, noise, t), torch.full_like(x0, -1.0)], 1)  # var = posterior
    out = loss(perfect, x0, x_t, noise, t)
    assert float(out["mse"]) == pytest.approx(0.0, abs=1e-10)
    assert float(out["vlb"]) == pytest.approx(0.0, abs=1e-4)  # KL of a distribution with itself
    worse = loss(torch.cat([perfect[:, :1], torch.full_like(x0, 1.0)], 1), x0, x_t, noise, t)
    assert float(worse["vlb"]) > float(out["vlb"])


def test_vlb_trains_only_the_variance_channel():
    s = training_scheduler()
    out = torch.randn(2, 2, 8, 8, requires_grad=True)
    x0, noise = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    t = torch.tensor([5, 500])
    HybridLoss(s)(out, x0, s.add_noise(x0, noise, t), noise, t)["vlb"].backward()
    assert out.grad[:, 0].abs().max() == 0 and out.grad[:, 1].abs().max() > 0


def small_model():
    torch.manual_seed(0)
    return build_unet(UNetConfig(image_size=16, channels=(8, 16), attention_levels=(False, True),
                                 num_head_channels=8, norm_num_groups=8)).eval()


def test_cpu_profile_stays_small():
    assert count_parameters(build_unet(UNetConfig())) <= 3_000_000


def test_null_embedding_replaces_nan_rows():
    model = small_model()
    emb = model.class_embedding
    angles = torch.tensor([[0.1, 0.2, 0.3], [float("nan")] * 3])
    out = emb(angles)
    assert torch.equal(out[1], emb.null) and not torch.equal(out[0], emb.null)


class OracleDenoiser(torch.nn.Module):
    """The exact v of a data distribution that is one point: x0 = the source's mirror image.
    Every sampler must land on x0 from any noise."""

    def __init__(self, alphas_cumprod: torch.Tensor) -> None:
        super().__init__()
        self.ac = alphas_cumprod.double()

    def forward(self, x, t, class_labels=None):
        x_t, x0 = x[:, :1].double(), x[:, 1:].double().flip(-1)
        a = self.ac[t].view(-1, 1, 1, 1)
        eps = (x_t - a.sqrt() * x0) / (1 - a).sqrt()
        v = a.sqrt() * eps - (1 - a).sqrt() * x0
        return torch.cat([v, torch.zeros_like(v)], 1).float()


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_lands_on_the_target_of_an_exact_denoiser(name):
    sampler = make_sampler(name)
    oracle = OracleDenoiser(training_scheduler().alphas_cumprod)
    src = torch.rand(2, 1, 16, 16) * 2 - 1
    out = guided_sample(oracle, sampler, src, torch.zeros(2, 3), initial_noise((2, 1, 16, 16), 1), steps=10,
                        guidance=1.0)
    assert torch.allclose(out, src.flip(-1), atol=1e-3), (out - src.flip(-1)).abs().max()


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampling_zero_snr_gives_no_nan_and_guidance_one_is_conditional(name):
    model, scheduler = small_model(), make_sampler(name)
    src = torch.rand(2, 1, 16, 16) * 2 - 1
    angles = torch.tensor([[0.5, 0.0, -0.5], [0.0, 1.0, 0.0]])
    noise = initial_noise((2, 1, 16, 16), 3)
    guided_one = guided_sample(model, scheduler, src, angles, noise, steps=5, guidance=1.0)
    assert torch.isfinite(guided_one).all()
    # The conditional path computed by hand, step by step, on a fresh scheduler:
    scheduler = make_sampler(name)
    scheduler.set_timesteps(5)
    assert int(scheduler.timesteps[0]) == 999  # trailing: the first step is at pure noise
    x = noise.clone()
    for t in scheduler.timesteps:
        v = model(torch.cat([x, src], 1), torch.full((2,), int(t)), class_labels=angles)[:, :1]
        x = scheduler.step(v, t, x).prev_sample
    assert torch.allclose(guided_one, x, atol=1e-6)
    assert torch.isfinite(guided_sample(model, scheduler, src, angles, noise, steps=5, guidance=4.0)).all()


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_fixed_seed_gives_identical_samples(name):
    model, scheduler = small_model(), make_sampler(name)
    src, angles = torch.zeros(1, 1, 16, 16), torch.zeros(1, 3)
    a = guided_sample(model, scheduler, src, angles, initial_noise((1, 1, 16, 16), 5), steps=4)
    b = guided_sample(model, scheduler, src, angles, initial_noise((1, 1, 16, 16), 5), steps=4)
    c = guided_sample(model, scheduler, src, angles, initial_noise((1, 1, 16, 16), 6), steps=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
