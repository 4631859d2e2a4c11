"""The paper profile (profiles/paper.yaml) on a GPU: its U-Net trains in bf16 and samples.

Imports nothing beyond torch and the project (no SimpleITK, no Prefect), so that it runs where only
a CUDA torch is installed: `pytest --noconftest -m gpu tests/training/test_paper_profile_gpu.py`.
"""

import pytest
import torch

from components.config import load_config
from components.models.unet import unet_params
from components.sampling.guided import guided_sample
from components.sampling.samplers import make_sampler
from components.training.module import RadRotatorModule
from tests.params import PROJECT_ROOT

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none present")]


def test_the_paper_unet_learns_a_batch_in_bf16_and_samples_it():
    params = load_config(PROJECT_ROOT / "params.yaml", "paper")
    torch.manual_seed(0)
    module = RadRotatorModule(unet_params(params, params.train), params.train.optim.to_dict(),
                              params.train.max_steps).cuda()
    optimizer = module.configure_optimizers()
    size = params.drrs.geometry.pixels
    generator = torch.Generator("cuda").manual_seed(0)
    batch = {"target": torch.rand(4, 1, size, size, device="cuda", generator=generator) * 2 - 1,
             "source": torch.rand(4, 1, size, size, device="cuda", generator=generator) * 2 - 1,
             "angles": torch.tensor([[5.0, 0.0, -3.0]] * 4, device="cuda") / 15}

    def loss_on_fixed_noise() -> float:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return float(module._step(batch, ema=False, generator=torch.Generator("cuda").manual_seed(1))["loss"])

    before = loss_on_fixed_noise()
    for _ in range(20):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = module._step(batch, ema=False)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    assert torch.isfinite(loss) and loss_on_fixed_noise() < before
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = guided_sample(module.model.eval(), make_sampler("ddim"), batch["source"][:1], batch["angles"][:1],
                            torch.randn(1, 1, size, size, device="cuda"), steps=10, guidance=4.0)
    assert out.shape == (1, 1, size, size) and torch.isfinite(out).all()
