"""Cycle-GAN parts: generator and PatchGAN shapes, the image pool, losses, schedule, content metrics."""

import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from components.evaluation.content import bone_mask, content_preservation, dice
from components.models.cyclegan import ImagePool, ResnetGenerator, load_generators, patch_discriminator, save_generators
from components.training.cyclegan_module import CycleGANModule
from tests.params import cyclegan_config


def test_generator_keeps_shape_and_range():
    out = ResnetGenerator(1, 8, 2)(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 1, 32, 32) and out.abs().max() <= 1


def test_patchgan_is_the_70_pixel_discriminator():
    scores = patch_discriminator(8)(torch.randn(1, 1, 256, 256))[-1]
    assert scores.shape == (1, 1, 30, 30)  # the reference 70×70 PatchGAN's map on 256² input


def test_image_pool_fills_then_mixes_history():
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as given
    later = pool.query(torch.full((20, 1, 1, 1), 9.0))
    assert (later != 9).any() and (later == 9).any() and len(pool.images) == 4
    assert torch.equal(ImagePool(0).query(first), first)


def test_content_metrics():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32))
    assert content_preservation(image, image) == pytest.approx({"edge_ssim": 1.0, "bone_dice": 1.0})
    restyled = image**2  # monotone: anatomy unchanged
    assert content_preservation(image, restyled)["bone_dice"] == pytest.approx(1.0)
    moved = np.roll(image, 5, axis=1)
    assert content_preservation(image, moved)["edge_ssim"] < 0.5
    assert dice(bone_mask(image), bone_mask(moved)) < 0.5


def batches(n=8):
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(n, 1, 32, 32, generator=g) * 2 - 1, torch.rand(n, 1, 32, 32, generator=g) * 0.5
    return [{"a": a[i], "b": b[i]} for i in range(n)]


def test_a_few_steps_lower_the_cycle_loss_and_generators_round_trip(tmp_path):
    torch.manual_seed(0)
    module = CycleGANModule(cyclegan_config(filters=8, blocks=1, disc_filters=8, max_steps=40, lr=2e-3))
    data = batches()

    def cycle():
        a = torch.stack([d["a"] for d in data])
        with torch.no_grad():
            return float(torch.nn.functional.l1_loss(module.g_ba(module.g_ab(a)), a))

    before = cycle()
    L.Trainer(max_steps=40, accelerator="cpu", logger=False, enable_progress_bar=False, enable_checkpointing=False,
              enable_model_summary=False).fit(module, DataLoader(data, batch_size=4))
    assert cycle() < before
    save_generators(module.g_ab, module.g_ba, tmp_path, module.config.to_dict())
    ab, ba = load_generators(tmp_path)
    x = torch.rand(1, 1, 16, 16)
    assert torch.allclose(ab(x), module.g_ab.eval()(x), atol=1e-6)


def test_linear_decay_reaches_zero():
    module = CycleGANModule(cyclegan_config(filters=8, blocks=1, disc_filters=8, max_steps=10,
                                            lr_schedule="linear_decay", lr=2e-4))
    (opt_g, _), (sched_g, _) = module.configure_optimizers()
    rates = []
    for _ in range(10):
        rates.append(opt_g.param_groups[0]["lr"])
        opt_g.step()
        sched_g.step()
    assert rates[:5] == [2e-4] * 5 and rates[-1] < rates[5] and opt_g.param_groups[0]["lr"] == 0
    with pytest.raises(ValueError, match="linear_decay"):
        CycleGANModule(cyclegan_config(lr_schedule="cosine")).configure_optimizers()
