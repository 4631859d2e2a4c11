"""The Lightning module: it learns, its EMA follows, and a resumed run continues exactly."""

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from components.training.module import RadRotatorModule
from tests.params import optim

UNET = dict(image_size=16, channels=[8, 16], attention_levels=[False, True], num_res_blocks=1,
            num_head_channels=8, norm_num_groups=8)


class SamePair(Dataset):
    def __init__(self, n=16):
        g = torch.Generator().manual_seed(0)
        self.item = {"source": torch.rand(1, 16, 16, generator=g) * 2 - 1,
                     "target": torch.rand(1, 16, 16, generator=g) * 2 - 1,
                     "angles": torch.tensor([0.2, -0.4, 0.6])}
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.item


def module(**changes):
    torch.manual_seed(0)
    return RadRotatorModule(UNET, optim(**{"lr": 1e-3, "ema_decay": 0.9, **changes}))


def trainer(steps, tmp_path, **kw):
    return L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_progress_bar=False,
                     enable_model_summary=False, gradient_clip_val=1.0, default_root_dir=tmp_path, **kw)


def fixed_loss(m):
    torch.manual_seed(123)
    batch = {k: torch.stack([v] * 8) for k, v in SamePair().item.items()}
    m.train_config = m.train_config.__class__(**{**m.train_config.to_dict(), "guidance_drop_prob": 0.0})
    with torch.no_grad():
        return float(m._step(batch, ema=False)["mse"])


def test_a_tiny_overfit_lowers_the_loss(tmp_path):
    m = module()
    before = fixed_loss(m)
    trainer(60, tmp_path).fit(m, DataLoader(SamePair(64), batch_size=8))
    assert fixed_loss(m) < 0.7 * before


def test_ema_moves_towards_the_weights(tmp_path):
    m = module()
    start = [p.clone() for p in m.ema.module.parameters()]
    trainer(5, tmp_path).fit(m, DataLoader(SamePair(), batch_size=4))
    moved = sum(float((p - s).abs().sum()) for p, s in zip(m.ema.module.parameters(), start))
    gap = sum(float((p - q).abs().sum()) for p, q in zip(m.ema.module.parameters(), m.model.parameters()))
    assert moved > 0 and gap > 0  # it follows, lagging behind


def test_ema_warms_up_instead_of_keeping_the_initialisation(tmp_path):
    m = module(ema_decay=0.9999)
    start = [p.clone() for p in m.model.parameters()]
    trainer(20, tmp_path).fit(m, DataLoader(SamePair(80), batch_size=4))
    travelled = sum(float((p - s).abs().sum()) for p, s in zip(m.model.parameters(), start))
    gap = sum(float((p - q).abs().sum()) for p, q in zip(m.ema.module.parameters(), m.model.parameters()))
    assert gap < 0.5 * travelled  # a fixed 0.9999 would leave the EMA ~99.8 % at its start


def test_checkpoint_resumes_exactly(tmp_path):
    def loader():  # its own generator: iterator start-up must not draw from the global RNG
        return DataLoader(SamePair(), batch_size=4, generator=torch.Generator().manual_seed(0))

    straight = module()
    L.seed_everything(1)
    trainer(6, tmp_path / "a").fit(straight, loader())

    first = module()
    L.seed_everything(1)
    t = trainer(3, tmp_path / "b")
    t.fit(first, loader())
    t.save_checkpoint(tmp_path / "half.ckpt")
    L.seed_everything(99)  # the checkpoint's RNG state must win
    resumed = module()
    trainer(6, tmp_path / "c").fit(resumed, loader(), ckpt_path=tmp_path / "half.ckpt")
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast training needs a CUDA GPU; none present")
def test_bf16_steps_on_gpu(tmp_path):
    m = module()
    before = fixed_loss(m)
    L.Trainer(max_steps=30, accelerator="gpu", devices=1, precision="bf16-mixed", logger=False,
              enable_progress_bar=False, default_root_dir=tmp_path).fit(m, DataLoader(SamePair(64), batch_size=8))
    m = m.cpu()
    assert fixed_loss(m) < before
